"""The Square sandbox on loopback, every instance mounted on one shared uvicorn server."""

from __future__ import annotations

from typing import Any

from connectors.loopback import MountedSandbox, SharedHost
from connectors.square.sandbox.app import create_app, error_response
from connectors.square.sandbox.state import SandboxState
from connectors.square.sandbox.webhooks import SignedDelivery

_HOST = SharedHost("square", error_response(404, "NOT_FOUND", "Resource not found"))


class SandboxServer(MountedSandbox):
    """The Square API emulator on loopback; ``url`` is the API root (``{url}/v2/customers/search`` …).

    Keyword arguments build the ``SandboxState`` (``customers``, ``orders``, ``seed``, ``search_lag_s`` …)
    unless ``state`` is given.
    """

    def __init__(self, state: SandboxState | None = None, **options: Any) -> None:
        self.state = state if state is not None else SandboxState(**options)
        super().__init__(_HOST, create_app(self.state))

    @property
    def access_token(self) -> str:
        """The bearer token the sandbox accepts."""
        return self.state.access_token

    def record_ids(self, stream: str) -> list[str]:
        """Every id a full read of ``customers`` or ``orders`` returns (the conformance kit's ``SandboxLike``)."""
        return self.state.record_ids(stream)

    def webhook_delivery(
        self, stream: str, record_id: str, *, secret: str | None = None, age_s: float = 0.0
    ) -> SignedDelivery:
        """A ``customer.updated`` or ``order.updated`` notification for one record, for the conformance kit."""
        return self.state.webhook_delivery(stream, record_id, secret=secret, age_s=age_s)

    def deliver_webhooks_to(self, url: str, signature_key: str | None = None) -> None:
        """POST a signed notification to ``url`` after every later edit."""
        self.state.deliver_webhooks_to(url, signature_key)

    def _release(self) -> None:
        self.state.stopping.set()
