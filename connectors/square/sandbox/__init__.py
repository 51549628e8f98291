"""A loopback emulator of the Square API (Customers, Orders, Locations), for tests, the conformance kit and demos.

``SandboxServer()`` serves the sandbox town's people as a Square customer directory and their purchases at
Japanese store locations, with Square's search rules, query-bound cursors, late offline orders, eventually
consistent customer search, 429 ``RATE_LIMITED`` without ``Retry-After``, keyed writes and signed notifications;
its ``state`` edits records and injects faults.
"""

from connectors.square.sandbox.app import create_app
from connectors.square.sandbox.server import SandboxServer
from connectors.square.sandbox.state import LoggedRequest, RateLimit, SandboxState
from connectors.square.sandbox.webhooks import SIGNATURE_HEADER, SignedDelivery, signature

__all__ = [
    "SIGNATURE_HEADER",
    "LoggedRequest",
    "RateLimit",
    "SandboxServer",
    "SandboxState",
    "SignedDelivery",
    "create_app",
    "signature",
]
