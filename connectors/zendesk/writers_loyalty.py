"""``member.loyalty`` → user fields (rank, points) on the members' Zendesk users, through ``update_many``.

The rank's benefit flags go to ``benefits_field`` when one is configured: a multiselect field whose option
values are the flag codes takes the list of flags held (Zendesk stores a multiselect value as those option
values; an empty list clears it), so agents see "priority reservation" next to the rank.

``PUT /api/v2/users/update_many.json`` takes up to 100 users with their own updates and answers with a
background job, which is polled until it completes. Setting a field is idempotent, so a retried delivery
simply sets the same values again. Changes without a Zendesk user (``customer_id`` null) are skipped: the
user field lives on a user the member does not have here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.config import ZendeskConfig
from connectors.zendesk.payloads import LoyaltyChange, LoyaltyChanges, parse_payload
from core.errors import PermanentError, RetryableError
from core.sync.contract import STATUS_MESSAGE, OutboundMessage

_RUNNING = ("queued", "working")


class LoyaltyWriter:
    """Delivers ``member.loyalty`` messages; ``sleep`` and ``clock`` (monotonic) pace the job polling."""

    kinds: tuple[str, ...] = (STATUS_MESSAGE,)

    def __init__(
        self,
        client: ZendeskClient,
        config: ZendeskConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._config = config
        self._sleep = sleep
        self._clock = clock

    def deliver(self, message: OutboundMessage) -> None:
        """Send every change with a Zendesk user, in batches; refused users are reported after the rest went."""
        changes = parse_payload(LoyaltyChanges, message).changes
        updates = [self._update(change) for change in changes if change.customer_id]
        malformed = sum(1 for update in updates if update is None)
        valid = [update for update in updates if update is not None]
        size = self._config.loyalty_batch_size
        failed: list[str] = []
        for start in range(0, len(valid), size):
            failed += self._run(valid[start : start + size])
        if malformed or failed:
            first = failed[0] if failed else "customer_id is not a Zendesk user id"
            raise PermanentError(
                f"{STATUS_MESSAGE}: {malformed + len(failed)} of {len(updates)} user updates refused; first: {first}"
            )

    def _update(self, change: LoyaltyChange) -> dict[str, Any] | None:
        customer = (change.customer_id or "").strip()
        if not customer.isdecimal():
            return None
        config = self._config
        fields: dict[str, Any] = {config.rank_field: change.rank, config.points_field: change.points_available}
        if self._config.expiring_points_field:
            fields[self._config.expiring_points_field] = change.expiring_points
        if self._config.expiring_at_field:
            fields[self._config.expiring_at_field] = _date(change.expiring_at)
        if self._config.benefits_field and change.flags is not None:
            fields[self._config.benefits_field] = list(change.flags)
        return {"id": int(customer), "user_fields": fields}

    def _run(self, batch: Sequence[Mapping[str, Any]]) -> list[str]:
        """One ``update_many`` job, waited for; the error codes of the users it could not update."""
        job = self._client.update_many_users(batch)
        deadline = self._clock() + self._config.job_max_wait_s
        while job.get("status") in _RUNNING:
            if self._clock() >= deadline:
                raise RetryableError(f"{STATUS_MESSAGE}: update_many job still running after the wait")
            self._sleep(self._config.job_poll_interval_s)
            job = self._client.job_status(str(job.get("id")))
        if job.get("status") != "completed":
            raise RetryableError(f"{STATUS_MESSAGE}: update_many job ended {job.get('status')!r}")
        results = job.get("results")
        if not isinstance(results, list):
            return []
        return [str(r.get("error") or r.get("status")) for r in results if isinstance(r, dict) and _failed(r)]


def _failed(result: Mapping[str, Any]) -> bool:
    return bool(result.get("error")) or str(result.get("status", "")).lower() == "failed"


def _date(moment: datetime | Any) -> str | None:
    """A date field takes ``YYYY-MM-DD``."""
    if moment is None:
        return None
    return moment.date().isoformat() if isinstance(moment, datetime) else str(moment.isoformat())
