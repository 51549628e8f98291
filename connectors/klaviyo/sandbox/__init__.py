"""A loopback emulator of Klaviyo's API, for tests, the conformance kit and the demo.

``SandboxServer()`` serves the sandbox town's people as profiles (``connectors.town``) and their survey
answers as events on ``127.0.0.1``; its ``state`` injects faults (5xx, 429 storms, hangs, garbage pages),
adds events, and shows what the connector wrote (``received_events``, ``list_members``, ``profile``).
"""

from connectors.klaviyo.sandbox.app import create_app
from connectors.klaviyo.sandbox.data import METRIC_IDS, NEWSLETTER_LIST_ID, NPS_METRIC, SATISFACTION_METRIC
from connectors.klaviyo.sandbox.server import SandboxServer
from connectors.klaviyo.sandbox.state import SURVEY_METRICS, LoggedRequest, RateLimit, ReceivedEvent, SandboxState
from connectors.sandbox_faults import Fault

__all__ = [
    "METRIC_IDS",
    "NEWSLETTER_LIST_ID",
    "NPS_METRIC",
    "SATISFACTION_METRIC",
    "SURVEY_METRICS",
    "Fault",
    "LoggedRequest",
    "RateLimit",
    "ReceivedEvent",
    "SandboxServer",
    "SandboxState",
    "create_app",
]
