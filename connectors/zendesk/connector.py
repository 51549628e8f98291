"""``ZendeskConnector``: the exports, webhooks and writers of one Zendesk Support account, put together."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from connectors.zendesk.client import ExportPage, ZendeskClient
from connectors.zendesk.config import ZendeskConfig
from connectors.zendesk.mapping import ticket_mapper, user_to_profile
from connectors.zendesk.streams import STREAMS, ZendeskStream
from connectors.zendesk.webhooks import WebhookVerifier, parse_delivery
from connectors.zendesk.writers import TicketWriter
from connectors.zendesk.writers_loyalty import LoyaltyWriter
from core.errors import PermanentError, SyncError
from core.records import CanonicalRecord
from core.sync.contract import Batch, CheckResult, OutboundMessage, Rejected, StreamSpec
from core.sync.cursor import StreamCursor
from core.sync.http import ClientStats
from core.sync.mapping import RecordMapper, map_record, map_records
from core.sync.retry import RetryPolicy


class ZendeskConnector:
    """A ``Connector``, ``WebhookReceiver`` and ``OutboundWriter`` for one Zendesk Support account.

    ``transport`` fakes the wire and ``retry`` tunes the shared client's retries (the conformance kit turns
    them off); ``sleep``/``clock`` pace the polling of background jobs; ``wall_clock`` (Unix seconds) dates
    webhook deliveries.
    """

    streams: Sequence[StreamSpec] = tuple(stream.spec for stream in STREAMS.values())
    outbound_kinds: Sequence[str] = (*TicketWriter.kinds, *LoyaltyWriter.kinds)

    def __init__(
        self,
        instance: str,
        config: ZendeskConfig,
        *,
        token: str,
        webhook_secrets: Sequence[str] = (),
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.instance = instance
        self.config = config
        self._client = ZendeskClient(config, token, transport=transport, retry=retry, sleep=sleep)
        self._verifier = WebhookVerifier(webhook_secrets, tolerance_s=config.webhook_tolerance_s, clock=wall_clock)
        self._tickets = TicketWriter(self._client, config)
        self._loyalty = LoyaltyWriter(self._client, config, sleep=sleep, clock=clock)
        self._mappers: dict[str, RecordMapper] = {
            "users": user_to_profile,
            "tickets": ticket_mapper(config.category_field_id, config.category_tag_prefix),
        }

    @property
    def stats(self) -> ClientStats:
        """Requests sent, attempts on the wire, retries and the seconds spent waiting (``Retry-After``)."""
        return self._client.stats

    def check(self) -> CheckResult:
        """Read the credentials' own user: proves the URL, the credentials and that they are an agent's."""
        try:
            me = self._client.me()
        except SyncError as error:
            return CheckResult(ok=False, message=str(error))
        if me.get("id") is None or me.get("role") not in ("agent", "admin"):
            return CheckResult(ok=False, message=f"{self.config.host}: credentials not accepted as an agent's (auth)")
        return CheckResult(ok=True, message=f"reached {self.config.host}; credentials accepted ({me.get('role')})")

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """Export pages from ``cursor`` on, until Zendesk says ``end_of_stream``.

        The cursor is a ``StreamCursor`` whose ``page`` is Zendesk's ``after_cursor`` — where the export goes on,
        every row after it and none before — and whose ``updated_since`` is the newest ``updated_at`` read. With
        no ``after_cursor`` yet, the export starts at ``updated_since`` (or ``start_time``), inclusive.
        """
        declared = self._stream(stream)
        position = StreamCursor.from_json(cursor)
        high_water, after = position.updated_since, position.page
        start = _unix(position.updated_since or self.config.start_time)
        while True:
            page = self._client.export_page(declared.resource, start_time=start, cursor=after, **declared.params)
            records = map_records(self.instance, self._rows(declared, page), self._mappers[stream])
            high_water = _high_water(records, high_water)
            after = page.after_cursor or after
            yield Batch(records, StreamCursor(high_water, after).to_json())
            if page.end_of_stream:
                return
            if page.after_cursor is None:
                raise PermanentError(f"export of {stream}: a page without end_of_stream nor after_cursor")

    def map_raw(self, stream: str, raw: str) -> CanonicalRecord | Rejected:
        """Map one stored raw object (a user, or a ticket bundle) again: a dead letter being replayed."""
        self._stream(stream)
        try:
            item = json.loads(raw)
        except ValueError:
            return Rejected(None, "stored payload is not JSON", raw)
        return map_record(self.instance, item, self._mappers[stream])

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> str:
        """Authenticate a delivery over its timestamp and raw body; returns the event id."""
        return self._verifier.verify(headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[CanonicalRecord | Rejected]:
        """The user or ticket a verified event names, as Zendesk has it now."""
        return parse_delivery(body, read_user=self._read_user, read_ticket=self._read_ticket)

    def deliver(self, message: OutboundMessage) -> None:
        """Push one outbox message of a kind in ``outbound_kinds``."""
        if message.kind in TicketWriter.kinds:
            self._tickets.deliver(message)
        elif message.kind in LoyaltyWriter.kinds:
            self._loyalty.deliver(message)
        else:
            raise PermanentError(f"the zendesk connector does not write {message.kind!r} messages")

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _rows(self, declared: ZendeskStream, page: ExportPage) -> list[Any]:
        """The page's rows of the stream's roles; each ticket bundled with its thread and metric set."""
        rows = [row for row in page.items if _has_role(row, declared.roles)]
        if declared.resource != "tickets":
            return rows
        metrics = {m.get("ticket_id"): m for m in page.sideloads.get("metric_sets") or [] if isinstance(m, dict)}
        return [self._bundle(row, metrics.get(row.get("id"))) if isinstance(row, dict) else row for row in rows]

    def _bundle(self, ticket: dict[str, Any], metric_set: Any) -> dict[str, Any]:
        if not isinstance(ticket.get("id"), int):
            return ticket  # garbage: left for the mapping to reject
        thread = self._client.thread(ticket["id"])
        return {**ticket, "comments": list(thread.comments), "comment_authors": dict(thread.roles),
                "metric_set": metric_set}  # fmt: skip

    def _read_user(self, user_id: int) -> CanonicalRecord | Rejected | None:
        user = self._client.user(user_id)
        if user is None or not _has_role(user, STREAMS["users"].roles):
            return None
        return map_record(self.instance, user, self._mappers["users"])

    def _read_ticket(self, ticket_id: int) -> CanonicalRecord | Rejected | None:
        ticket = self._client.ticket(ticket_id)
        if ticket is None or ticket.get("status") == "deleted":
            return None
        return map_record(self.instance, self._bundle(dict(ticket), ticket.get("metric_set")), self._mappers["tickets"])

    def _stream(self, name: str) -> ZendeskStream:
        try:
            return STREAMS[name]
        except KeyError:
            raise PermanentError(f"the zendesk connector has no stream {name!r}") from None


def create_connector(instance: str, config: ZendeskConfig, secrets: Mapping[str, str]) -> ZendeskConnector:
    """The ``ConnectorType`` factory: ``secrets`` maps ``token_env`` and ``webhook_secret_env`` to values."""
    return ZendeskConnector(
        instance,
        config,
        token=secrets["token_env"],
        webhook_secrets=[part.strip() for part in secrets.get("webhook_secret_env", "").split(",")],
    )


def _has_role(row: Any, roles: frozenset[str] | None) -> bool:
    """Garbage rows (not objects) go on, to be rejected; a user without a role is taken as an end-user."""
    return roles is None or not isinstance(row, dict) or str(row.get("role", "end-user")) in roles


def _unix(moment: datetime | None) -> int:
    return 0 if moment is None else max(0, int(moment.timestamp()))


def _high_water(records: Sequence[CanonicalRecord | Rejected], previous: datetime | None) -> datetime | None:
    """The latest ``updated_at`` of the page's valid records (a page of rejects keeps the previous mark)."""
    seen = [record.source_updated_at for record in records if isinstance(record, CanonicalRecord)]
    return max(seen, default=previous)
