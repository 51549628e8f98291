"""A loopback emulator of the Zendesk Support API, for tests, the conformance kit and the demo.

``SandboxServer()`` serves the town's people who called the call center, their tickets and comment threads on
``127.0.0.1``; its ``state`` injects faults (5xx, 429 storms, hangs, garbage pages), holds back rows changed in
the last ``export_delay_s``, enforces the export budget, replays idempotent writes and sends signed webhooks.
"""

from connectors.zendesk.sandbox.app import create_app
from connectors.zendesk.sandbox.data import API_USER_ID, CATEGORY_FIELD_ID, USER_ID_BASE
from connectors.zendesk.sandbox.server import SandboxServer
from connectors.zendesk.sandbox.state import LoggedRequest, RateLimit, SandboxState
from connectors.zendesk.sandbox.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignedDelivery, signature

__all__ = [
    "API_USER_ID",
    "CATEGORY_FIELD_ID",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "USER_ID_BASE",
    "LoggedRequest",
    "RateLimit",
    "SandboxServer",
    "SandboxState",
    "SignedDelivery",
    "create_app",
    "signature",
]
