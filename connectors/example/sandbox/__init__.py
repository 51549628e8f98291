"""A loopback emulator of the Example POS + CRM REST API, for tests, the conformance kit and the demo.

``SandboxServer()`` serves generated Japanese customers and orders on ``127.0.0.1``; its ``state`` injects
faults (5xx, 429 storms, hangs, garbage pages), mutates records and counts requests.
"""

from connectors.example.sandbox.app import create_app
from connectors.example.sandbox.server import SandboxServer
from connectors.example.sandbox.state import LoggedRequest, RateLimit, SandboxState
from connectors.example.sandbox.webhooks import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignedDelivery,
    signature,
)
from connectors.sandbox_faults import Fault

__all__ = [
    "DELIVERY_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Fault",
    "LoggedRequest",
    "RateLimit",
    "SandboxServer",
    "SandboxState",
    "SignedDelivery",
    "create_app",
    "signature",
]
