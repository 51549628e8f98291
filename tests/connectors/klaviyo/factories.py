"""Building the Klaviyo connector against a running sandbox, the way the tests need it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from connectors.klaviyo import KlaviyoConfig, KlaviyoConnector, SurveyMetric
from connectors.klaviyo.sandbox import NEWSLETTER_LIST_ID, NPS_METRIC, SATISFACTION_METRIC, SandboxServer
from core.sync.contract import OutboundMessage
from core.sync.retry import RetryPolicy

NO_RETRY = RetryPolicy(max_attempts=1)
"""The first error surfaces as it is: these tests check classification; core tests the retrying."""
SANDBOX_SURVEYS = (
    SurveyMetric(
        metric=SATISFACTION_METRIC,
        survey_code="post-purchase",
        survey_code_property="survey",
        answer_properties={"satisfaction": "満足度", "staff": "スタッフの対応"},
    ),
    SurveyMetric(metric=NPS_METRIC, survey_code="nps", score_property="score"),
)
"""How the sandbox's two survey metrics are read: 満足度 (1–5) as an answer, NPS (0–10) as the score."""


def klaviyo_config(server: SandboxServer, **settings: Any) -> KlaviyoConfig:
    """Settings for ``server``: 10 profiles or events a page, a 2 s deadline, the sandbox's surveys and list."""
    defaults = {"base_url": server.url, "profiles_page_size": 10, "events_page_size": 10, "timeout_s": 2.0,
                "surveys": SANDBOX_SURVEYS, "list_id": NEWSLETTER_LIST_ID}  # fmt: skip
    return KlaviyoConfig(**{**defaults, **settings})


def klaviyo_connector(
    server: SandboxServer,
    *,
    retry: RetryPolicy = NO_RETRY,
    clock: Callable[[], datetime] | None = None,
    transport: httpx.BaseTransport | None = None,
    **settings: Any,
) -> KlaviyoConnector:
    """A connector for ``server`` (see ``klaviyo_config``), retries off unless ``retry`` says otherwise."""
    options: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return KlaviyoConnector(
        "klaviyo-test", klaviyo_config(server, **settings), api_key=server.api_key, retry=retry,
        transport=transport, **options,
    )  # fmt: skip


def message(kind: str, payload: dict[str, Any], key: str = "key-1") -> OutboundMessage:
    """An outbox message as the dispatcher hands it over."""
    return OutboundMessage(kind=kind, idempotency_key=key, payload=payload, member_id=payload.get("member_id"))
