"""The Klaviyo emulator served on the process's shared loopback host."""

from __future__ import annotations

from typing import Any

from connectors.klaviyo.sandbox.app import create_app
from connectors.klaviyo.sandbox.jsonapi import error_response
from connectors.klaviyo.sandbox.state import SandboxState
from connectors.loopback import MountedSandbox, SharedHost

_HOST = SharedHost("klaviyo", error_response(404, "not_found", "Not found.", "No sandbox at this path."))


class SandboxServer(MountedSandbox):
    """The Klaviyo emulator on loopback. ``state`` drives its data and faults; ``url`` is its base URL.

    Keyword arguments build the ``SandboxState`` (``profiles=``, ``events=``, ``seed=``, ``rate_limit=`` …)
    unless ``state`` is given. Usable as a context manager; ``stop()`` takes it off the air.
    """

    def __init__(self, state: SandboxState | None = None, **options: Any) -> None:
        self.state = state if state is not None else SandboxState(**options)
        super().__init__(_HOST, create_app(self.state))
        self.state.base_url = self.url

    @property
    def api_key(self) -> str:
        """The private key the sandbox currently accepts."""
        return self.state.api_key

    def record_ids(self, stream: str) -> set[str]:
        """Ids of every record of ``stream``."""
        return self.state.record_ids(stream)

    def _release(self) -> None:
        self.state.stopping.set()
