"""The Shopify sandbox on loopback, every instance mounted on one shared uvicorn server."""

from __future__ import annotations

import itertools
import threading
from types import TracebackType
from typing import Any, Self

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.example.sandbox import LoopbackServer
from connectors.shopify.sandbox.app import create_app
from connectors.shopify.sandbox.state import SUPPORTED_VERSIONS, SandboxState
from connectors.shopify.sandbox.webhooks import SignedDelivery


class _SharedHost:
    """One loopback server for the process; each sandbox lives under its own path prefix, stripped on the way in.

    A uvicorn start and stop costs about 0.2 s, too much for a fresh sandbox per test; mounting costs nothing.
    """

    def __init__(self) -> None:
        self._apps: dict[str, ASGIApp] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None

    def mount(self, app: ASGIApp) -> tuple[str, str]:
        """Serve ``app``; returns its prefix and its base URL."""
        with self._lock:
            if self._server is None:  # a daemon thread, left running until the process exits
                self._server = LoopbackServer(self)
            prefix = f"/shop-{next(self._numbers)}"
            self._apps[prefix] = app
            return prefix, self._server.url + prefix

    def unmount(self, prefix: str) -> None:
        """Stop routing to the app under ``prefix``."""
        with self._lock:
            self._apps.pop(prefix, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix, _, rest = scope.get("path", "").partition("/")[2].partition("/")
        app = self._apps.get(f"/{prefix}")
        if scope["type"] != "http" or app is None:
            await JSONResponse({"errors": "Not Found"}, status_code=404)(scope, receive, send)
            return
        await app({**scope, "path": f"/{rest}", "raw_path": f"/{rest}".encode()}, receive, send)


_HOST = _SharedHost()


class SandboxServer:
    """The Shopify GraphQL Admin API emulator on loopback.

    ``url`` is the shop's base URL (``{url}/admin/api/{version}/graphql.json``); ``graphql_url`` the endpoint of
    the newest supported version. Keyword arguments build the ``SandboxState`` unless ``state`` is given.
    """

    def __init__(self, state: SandboxState | None = None, **options: Any) -> None:
        self.state = state if state is not None else SandboxState(**options)
        self._prefix, self.url = _HOST.mount(create_app(self.state))
        self.state.base_url = self.url

    @property
    def graphql_url(self) -> str:
        """The GraphQL endpoint of the newest supported API version."""
        return f"{self.url}/admin/api/{SUPPORTED_VERSIONS[-1]}/graphql.json"

    @property
    def access_token(self) -> str:
        """The ``X-Shopify-Access-Token`` the sandbox accepts."""
        return self.state.access_token

    def record_ids(self, stream: str) -> list[str]:
        """Every id in ``customers`` or ``orders`` (the conformance kit's ``SandboxLike``)."""
        return self.state.record_ids(stream)

    def webhook_delivery(
        self, stream: str, record_id: str, *, secret: str | None = None, age_s: float = 0.0
    ) -> SignedDelivery:
        """A ``customers/update`` or ``orders/updated`` delivery for one record, for the conformance kit."""
        topic = "customers/update" if stream == "customers" else "orders/updated"
        return self.state.webhook(topic, record_id, secret=secret, age_s=age_s)

    def stop(self) -> None:
        """Release hanging requests, stop serving and delete bulk result files; safe to call twice."""
        self.state.stopping.set()
        _HOST.unmount(self._prefix)
        self.state.bulk.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
