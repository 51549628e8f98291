"""The Celery application of the distributed mode: Redis broker, late acknowledgement, one message at a time.

A worker acknowledges a message only after its task returned, so a worker that dies mid-run (SIGKILL, OOM, a
lost machine) leaves the message unacknowledged in Redis; after the visibility timeout another worker receives
it again. That is safe because every task is idempotent: a sync resumes from the cursor committed with its
last batch, and the stream's advisory lock turns a second copy of a running sync into a no-op ("busy").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from celery import Celery  # type: ignore[import-untyped]
from celery.signals import setup_logging  # type: ignore[import-untyped]

from core.errors import ConfigError
from core.logs import configure_logging

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "memberhub"
DEFAULT_VISIBILITY_TIMEOUT_S = 3600


@dataclass(frozen=True)
class BrokerSettings:
    """Where the queue lives and how long an unacknowledged message stays with the worker that took it.

    ``visibility_timeout_s`` must exceed the longest sync (a connector's ``deadline_s``, 900 s by default) and
    the longest retry countdown: past it Redis hands the message to another worker, whose copy then finds the
    stream busy — harmless, but wasted. It is also how long a message of a killed worker waits for redelivery.
    """

    url: str = DEFAULT_BROKER_URL
    queue: str = DEFAULT_QUEUE
    visibility_timeout_s: int = DEFAULT_VISIBILITY_TIMEOUT_S


def load_broker_settings() -> BrokerSettings:
    """Settings from ``HUB_BROKER_URL``, ``HUB_BROKER_QUEUE`` and ``HUB_BROKER_VISIBILITY_TIMEOUT`` (seconds)."""
    timeout = os.environ.get("HUB_BROKER_VISIBILITY_TIMEOUT") or str(DEFAULT_VISIBILITY_TIMEOUT_S)
    if not timeout.isdigit() or int(timeout) < 1:
        raise ConfigError("HUB_BROKER_VISIBILITY_TIMEOUT: a whole number of seconds, at least 1")
    return BrokerSettings(
        url=os.environ.get("HUB_BROKER_URL") or DEFAULT_BROKER_URL,
        queue=os.environ.get("HUB_BROKER_QUEUE") or DEFAULT_QUEUE,
        visibility_timeout_s=int(timeout),
    )


def create_app(broker: BrokerSettings) -> Celery:
    """A Celery app on ``broker`` with the hub's delivery guarantees; tasks come from ``hub.workers.tasks``."""
    app = Celery("memberhub", include=["hub.workers.tasks"])
    app.conf.update(
        broker_url=broker.url,
        broker_transport_options=_transport_options(broker.visibility_timeout_s),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker that is down for a while is waited for, never given up on
        task_default_queue=broker.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,  # a pool process that dies requeues its message (the threads pool has none)
        # A sync that lost the broker mid-run finishes its batches; its message comes back after the visibility
        # timeout and meets the stream lock or a cursor at the end. Cancelling would only throw work away.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_prefetch_multiplier=1,  # a worker holds no message it is not running: a killed one strands none
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # outcomes are recorded in sync_runs, not in a result backend
        timezone="Asia/Tokyo",
        enable_utc=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


def _transport_options(visibility_timeout_s: int) -> dict[str, Any]:
    # kombu sweeps abandoned messages back into their queue every `unacked_restore_interval` seconds; with the
    # default throttle only every tenth sweep scans Redis, which would add up to 100 s to the visibility timeout.
    return {
        "visibility_timeout": visibility_timeout_s,
        "unacked_restore_interval": max(1, min(10, visibility_timeout_s // 3)),
        "unacked_restore_throttle": 1,
    }


@setup_logging.connect  # type: ignore[untyped-decorator]
def _hub_logging(**_: object) -> None:
    """Celery keeps its hands off logging: the hub's PII-redacting chain (``core.logs``) handles it."""
    configure_logging(json=os.environ.get("HUB_LOG_FORMAT") == "json", level=os.environ.get("HUB_LOG_LEVEL", "WARNING"))


app = create_app(load_broker_settings())
