"""The Shopify sandbox on loopback, every instance mounted on one shared uvicorn server."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from connectors.loopback import MountedSandbox, SharedHost
from connectors.shopify.sandbox.app import create_app
from connectors.shopify.sandbox.state import SUPPORTED_VERSIONS, SandboxState
from connectors.shopify.sandbox.webhooks import SignedDelivery

_HOST = SharedHost("shop", JSONResponse({"errors": "Not Found"}, status_code=404))


class SandboxServer(MountedSandbox):
    """The Shopify GraphQL Admin API emulator on loopback.

    ``url`` is the shop's base URL (``{url}/admin/api/{version}/graphql.json``); ``graphql_url`` the endpoint of
    the newest supported version. Keyword arguments build the ``SandboxState`` unless ``state`` is given.
    """

    def __init__(self, state: SandboxState | None = None, **options: Any) -> None:
        self.state = state if state is not None else SandboxState(**options)
        super().__init__(_HOST, create_app(self.state))
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
        super().stop()
        self.state.bulk.close()

    def _release(self) -> None:
        self.state.stopping.set()
