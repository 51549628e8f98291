"""The Example API emulator served on the process's shared loopback host."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.example.sandbox.app import create_app, error_response
from connectors.example.sandbox.state import SandboxState
from connectors.example.sandbox.webhooks import SignedDelivery
from connectors.loopback import MountedSandbox, SharedHost

_HOST = SharedHost("sandbox", error_response(404, "not_found", "no sandbox at this path"))


class SandboxServer(MountedSandbox):
    """The Example API emulator on loopback. ``state`` drives its data and faults; ``url`` is its base URL.

    Keyword arguments build the ``SandboxState`` (``customers=``, ``orders=``, ``rate_limit=`` …) unless
    ``state`` is given. Usable as a context manager; ``stop()`` takes it off the air.
    """

    def __init__(self, state: SandboxState | None = None, **options: Any) -> None:
        self.state = state if state is not None else SandboxState(**options)
        super().__init__(_HOST, create_app(self.state))

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

    def post_webhook(self, target_url: str, delivery: SignedDelivery, *, timeout_s: float = 5.0) -> httpx.Response:
        """POST a delivery to a receiver, as the real system does."""
        return httpx.post(target_url, content=delivery.body, headers=delivery.headers, timeout=timeout_s)

    def _release(self) -> None:
        self.state.stopping.set()
