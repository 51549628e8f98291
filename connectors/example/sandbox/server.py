"""Serving ASGI apps on loopback from a background thread: any app, and sandboxes on one shared server."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.example.sandbox.app import create_app, error_response
from connectors.example.sandbox.state import SandboxState
from connectors.example.sandbox.webhooks import SignedDelivery

_START_TIMEOUT_S = 10.0


class LoopbackServer:
    """``app`` served by uvicorn on ``127.0.0.1`` at a free port, from a daemon thread; started at once."""

    def __init__(self, app: ASGIApp) -> None:
        # proto must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP,
        # and without it every response waits ~40 ms for the client's delayed ACK (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(
            app, log_config=None, log_level="warning", access_log=False, lifespan="off",
            loop="asyncio", http="h11", timeout_graceful_shutdown=1,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"loopback:{port}", daemon=True
        )
        self._thread.start()
        self._wait_until_started()

    def _wait_until_started(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._socket.close()
                raise RuntimeError("loopback server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT_S)
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _SharedHost:
    """One loopback server for the whole process, hosting every open sandbox under its own path prefix.

    Starting and stopping uvicorn costs about 0.2 s (its shutdown sleeps twice), too much for a fresh
    sandbox per test; mounting an app costs nothing. The prefix is stripped, as by a reverse proxy, so
    each sandbox sees itself at ``/``.
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
            prefix = f"/sandbox-{next(self._numbers)}"
            self._apps[prefix] = app
            return prefix, self._server.url + prefix

    def unmount(self, prefix: str) -> None:
        """Stop routing to the app under ``prefix``; its later requests get 404."""
        with self._lock:
            self._apps.pop(prefix, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        prefix, _, rest = path.partition("/")[2].partition("/")
        app = self._apps.get(f"/{prefix}")
        if scope["type"] != "http" or app is None:
            await error_response(404, "not_found", "no sandbox at this path")(scope, receive, send)
            return
        await app({**scope, "path": f"/{rest}", "raw_path": f"/{rest}".encode()}, receive, send)


_HOST = _SharedHost()


class SandboxServer:
    """The Example API emulator on loopback. ``state`` drives its data and faults; ``url`` is its base URL.

    Keyword arguments build the ``SandboxState`` (``customers=``, ``orders=``, ``rate_limit=`` …) unless
    ``state`` is given. Usable as a context manager; ``stop()`` takes it off the air.
    """

    def __init__(self, state: SandboxState | None = None, **options: Any) -> None:
        self.state = state if state is not None else SandboxState(**options)
        self._prefix, self.url = _HOST.mount(create_app(self.state))

    @property
    def token(self) -> str:
        """The bearer token the sandbox currently accepts."""
        return self.state.token

    def record_ids(self, stream: str) -> set[str]:
        """Ids of every record of ``stream``."""
        return self.state.record_ids(stream)

    def webhook_delivery(
        self, stream: str, record_id: str, *, secret: str | None = None, age_s: float = 0.0
    ) -> SignedDelivery:
        """A signed delivery for one record (see ``SandboxState.webhook_delivery``)."""
        return self.state.webhook_delivery(stream, record_id, secret=secret, age_s=age_s)

    def post_webhook(
        self, target_url: str, delivery: SignedDelivery, *, timeout_s: float = 5.0
    ) -> httpx.Response:
        """POST a delivery to a receiver, as the real system does."""
        return httpx.post(target_url, content=delivery.body, headers=delivery.headers, timeout=timeout_s)

    def stop(self) -> None:
        """Release hanging requests and stop serving; safe to call twice."""
        self.state.stopping.set()
        _HOST.unmount(self._prefix)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
