"""The Zendesk emulator served on the process's shared loopback host."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.loopback import MountedSandbox, SharedHost
from connectors.zendesk.sandbox.app import create_app, error_response
from connectors.zendesk.sandbox.state import SandboxState
from connectors.zendesk.sandbox.webhooks import SignedDelivery

_HOST = SharedHost("zendesk", error_response(404, "InvalidEndpoint", "no sandbox at this path"))


class SandboxServer(MountedSandbox):
    """The Zendesk Support emulator on loopback. ``state`` drives its data and faults; ``url`` is its origin.

    Keyword arguments build the ``SandboxState`` (``users=``, ``tickets=``, ``seed=``, ``export_delay_s=``,
    ``export_rate=`` …) unless ``state`` is given. Usable as a context manager; ``stop()`` takes it off the air.
    """

    def __init__(self, state: SandboxState | None = None, **options: Any) -> None:
        self.state = state if state is not None else SandboxState(**options)
        super().__init__(_HOST, create_app(self.state))

    @property
    def email(self) -> str:
        """The agent the API token belongs to."""
        return self.state.agent_email

    @property
    def token(self) -> str:
        """The API token the sandbox currently accepts (Basic ``{email}/token:{token}``)."""
        return self.state.api_token

    def record_ids(self, stream: str) -> set[str]:
        """Ids of every record of ``stream`` (end-users; tickets not deleted)."""
        return self.state.record_ids(stream)

    def webhook_delivery(
        self, stream: str, record_id: str, *, secret: str | None = None, age_s: float = 0.0
    ) -> SignedDelivery:
        """A signed event for one record (see ``SandboxState.webhook_delivery``)."""
        return self.state.webhook_delivery(stream, record_id, secret=secret, age_s=age_s)

    def post_webhook(self, target_url: str, delivery: SignedDelivery, *, timeout_s: float = 5.0) -> httpx.Response:
        """POST a delivery to a receiver, as Zendesk does."""
        return httpx.post(target_url, content=delivery.body, headers=delivery.headers, timeout=timeout_s)

    def _release(self) -> None:
        self.state.close()
