"""Building the Zendesk connector and small sandboxes, the way the tests need them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from connectors.zendesk import ZendeskConfig, ZendeskConnector
from connectors.zendesk.sandbox import SandboxServer
from core.sync.retry import RetryPolicy

NO_RETRY = RetryPolicy(max_attempts=1)
"""The first error surfaces as it is: the conformance kit checks classification; core tests the retrying."""


def small_sandbox(**options: Any) -> SandboxServer:
    """A sandbox of 20 end-users and 26 tickets with no export delay nor budget: reading, not pacing, is tested.

    Pacing has tests of its own (the export budget, the 60 s hold-back) with those turned back on.
    """
    settings: dict[str, Any] = {"users": 20, "tickets": 26, "people": 60, "export_delay_s": 0.0,
                                "export_rate": None, "rate_limit": None, **options}  # fmt: skip
    return SandboxServer(**settings)


def zendesk_connector(
    server: SandboxServer,
    *,
    retry: RetryPolicy = NO_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    **settings: Any,
) -> ZendeskConnector:
    """A connector for ``server``: 10-row export pages, 2-comment thread pages, 2 s deadline, retries off."""
    config = ZendeskConfig(
        **{"base_url": server.url, "email": server.email, "page_size": 10, "comments_page_size": 2,
           "timeout_s": 2.0, "job_poll_interval_s": 0.01, **settings}
    )  # fmt: skip
    return ZendeskConnector(
        "zendesk-test",
        config,
        token=server.token,
        webhook_secrets=(server.state.webhook_secret,),
        retry=retry,
        sleep=sleep,
    )
