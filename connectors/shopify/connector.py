"""``ShopifyConnector``: the streams, webhooks and customer writers of one shop's GraphQL Admin API, put together."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from connectors.shopify.bulk import BulkExporter, BulkObject, BulkPosition, BulkStatus, ResultGone
from connectors.shopify.client import ShopifyClient
from connectors.shopify.config import ShopifyConfig
from connectors.shopify.mapping import graphql_id, order_mapper
from connectors.shopify.pacing import PacingStats
from connectors.shopify.queries import CHECK, LINE_ITEMS_FOLLOW_UP, ORDER_BY_ID, ORDER_LINE_ITEMS
from connectors.shopify.streams import STREAMS, ShopifyStream, updated_since_term
from connectors.shopify.webhooks import WebhookVerifier, parse_delivery
from connectors.shopify.writers import CustomerWriter
from core.errors import PermanentError, RetryableError, SyncError
from core.records import CanonicalRecord
from core.sync.contract import Batch, CheckResult, OutboundMessage, Rejected, StreamSpec
from core.sync.cursor import StreamCursor
from core.sync.mapping import RecordMapper, map_record, map_records
from core.sync.retry import RetryPolicy

MAX_LINE_ITEM_PAGES = 40
"""Follow-up pages of one order's line items before giving up on it (6,000 lines is no real order)."""


class ShopifyConnector:
    """A ``Connector``, ``Backfiller``, ``WebhookReceiver`` and ``OutboundWriter`` for one Shopify shop.

    ``transport`` fakes the wire and ``retry`` tunes retries (the conformance kit turns them off); ``sleep``
    and ``clock`` (monotonic) pace queries, ``wall_clock`` (Unix seconds) dates webhook deliveries.
    """

    streams: Sequence[StreamSpec] = tuple(stream.spec for stream in STREAMS.values())
    outbound_kinds: Sequence[str] = CustomerWriter.kinds

    def __init__(
        self,
        instance: str,
        config: ShopifyConfig,
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
        self._client = ShopifyClient(config, token, transport=transport, retry=retry, sleep=sleep, clock=clock)
        self._verifier = WebhookVerifier(
            webhook_secrets, max_age_s=config.webhook_max_age_s, max_skew_s=config.webhook_max_skew_s,
            clock=wall_clock,
        )  # fmt: skip
        self._writer = CustomerWriter(instance, self._client, config)
        self._bulk = BulkExporter(self._client, config, transport=transport, sleep=sleep, clock=clock)

    @property
    def stats(self) -> PacingStats:
        """Queries sent, their cost, and the seconds spent pacing, throttled and retrying."""
        return self._client.stats

    def check(self) -> CheckResult:
        """Read one customer id: proves the shop URL, the API version, the token and its read scope."""
        try:
            self._client.query("check", CHECK, {})
        except SyncError as error:
            return CheckResult(ok=False, message=str(error))
        host = self.config.shop_url.host
        return CheckResult(ok=True, message=f"reached {host} (API {self.config.api_version}); token accepted")

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """Pages from ``cursor`` on.

        Between pages the cursor keeps the query's own ``updated_since`` with the page's ``endCursor`` (a
        Shopify cursor belongs to the query that issued it); after the last page it moves to the newest
        ``updatedAt`` seen, which the next run reads again (inclusive) after the engine's lookback.
        """
        declared = self._stream(stream)
        position = StreamCursor.from_json(cursor)
        since, high_water = position.updated_since, position.updated_since
        variables = {**declared.variables(self.config), "query": updated_since_term(since)}
        mapper = declared.mapper(self.config)
        while True:
            data = self._client.query(declared.spec.name, declared.document, {**variables, "after": position.page})
            nodes, end_cursor = _page(data, declared.connection)
            if declared is STREAMS["orders"]:
                self._complete_line_items(nodes)
            records = map_records(self.instance, nodes, mapper, external_id=graphql_id)
            high_water = _high_water(records, high_water)
            position = StreamCursor(since, end_cursor) if end_cursor else StreamCursor(high_water)
            yield Batch(records, position.to_json())
            if end_cursor is None:
                return

    def backfill(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """The whole stream through a bulk query operation, resumable from any batch's cursor.

        The first batch is empty: it records the operation, so a run that dies while Shopify works polls that
        same operation next time instead of starting another. A failed, cancelled or expired operation (or a
        result whose URL has expired) is replaced by a new one, up to ``bulk_max_attempts``; records read
        twice are absorbed by the idempotent upsert. The last batch's cursor is an incremental cursor at the
        operation's start: everything changed since then is read by the incremental lane.
        """
        declared = self._stream(stream)
        position = BulkPosition.from_json(cursor)
        outcome: BulkStatus | None = None
        for _ in range(self.config.bulk_max_attempts):
            operation = position.operation
            if operation is None:
                started = self._bulk.start(declared.bulk_document)
                operation, position = started.id, BulkPosition(started.id, started.created_at)
                yield Batch([], position.to_json())
            outcome = self._bulk.wait(operation)
            if outcome.status == "COMPLETED":
                try:
                    if outcome.url:  # Shopify gives no file when nothing matched
                        yield from self._bulk_batches(declared, outcome.url, position)
                except ResultGone:
                    position = BulkPosition()
                    continue
                yield Batch([], StreamCursor(position.started).to_json())
                return
            if outcome.error_code == "ACCESS_DENIED":
                raise PermanentError(f"bulk export of {stream}: ACCESS_DENIED (the token lacks a read scope)")
            position = BulkPosition()
        last = f"{outcome.status} {outcome.error_code or ''}".strip() if outcome else "not started"
        raise RetryableError(f"bulk export of {stream} failed {self.config.bulk_max_attempts} times (last: {last})")

    def map_raw(self, stream: str, raw: str) -> CanonicalRecord | Rejected:
        """Map one stored raw object again (a dead letter being replayed after a fix)."""
        try:
            item = json.loads(raw)
        except ValueError:
            return Rejected(None, "stored payload is not JSON", raw)
        return map_record(self.instance, item, self._stream(stream).mapper(self.config), external_id=graphql_id)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> str:
        """Authenticate a delivery over its raw body; returns its ``X-Shopify-Webhook-Id``."""
        return self._verifier.verify(headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[CanonicalRecord | Rejected]:
        """The records a verified delivery stands for (orders and refunds: the order as the shop has it now)."""
        return parse_delivery(self.instance, headers, body, self._read_order)

    def deliver(self, message: OutboundMessage) -> None:
        """Push one outbox message (``member.rank``, ``member.segments``, ``coupon.issued``, ``member.consent``)."""
        self._writer.deliver(message)

    def close(self) -> None:
        """Close the HTTP clients."""
        self._client.close()
        self._bulk.close()

    def _bulk_batches(self, declared: ShopifyStream, url: str, position: BulkPosition) -> Iterator[Batch]:
        mapper = declared.mapper(self.config)
        pending: list[BulkObject] = []
        for found in self._bulk.objects(url, position.offset, declared.bulk_children):
            pending.append(found)
            if len(pending) >= self.config.bulk_batch_size:
                yield self._bulk_batch(pending, mapper, position)
                pending = []
        if pending:
            yield self._bulk_batch(pending, mapper, position)

    def _bulk_batch(self, objects: Sequence[BulkObject], mapper: RecordMapper, position: BulkPosition) -> Batch:
        records = [
            found.item
            if isinstance(found.item, Rejected)
            else map_record(self.instance, found.item, mapper, external_id=graphql_id)
            for found in objects
        ]
        reached = BulkPosition(position.operation, position.started, objects[-1].end)
        return Batch(records, reached.to_json())

    def _read_order(self, order_id: str) -> CanonicalRecord | Rejected | None:
        variables = {"id": order_id, "lines": self.config.line_items_per_order,
                     "refunds": self.config.refunds_per_order}  # fmt: skip
        order = self._client.query("order", ORDER_BY_ID, variables).get("order")
        if order is None:
            return None
        self._complete_line_items([order])
        return map_record(self.instance, order, order_mapper(self.config.store_codes), external_id=graphql_id)

    def _complete_line_items(self, orders: Sequence[Any]) -> None:
        """Append the line items beyond the first page to each order that has more, in place."""
        for order in orders:
            items = order.get("lineItems") if isinstance(order, dict) else None
            if not isinstance(items, dict) or not isinstance(order.get("id"), str):
                continue  # garbage: left for the mapping to reject
            for _ in range(MAX_LINE_ITEM_PAGES):
                info = items.get("pageInfo") or {}
                if not info.get("hasNextPage") or not isinstance(items.get("nodes"), list):
                    break
                variables = {"id": order["id"], "lines": LINE_ITEMS_FOLLOW_UP, "after": info.get("endCursor")}
                more = self._client.query("order-lines", ORDER_LINE_ITEMS, variables).get("order") or {}
                page = more.get("lineItems") or {}
                items["nodes"] = [*items["nodes"], *(page.get("nodes") or [])]
                items["pageInfo"] = page.get("pageInfo") or {}

    def _stream(self, name: str) -> ShopifyStream:
        try:
            return STREAMS[name]
        except KeyError:
            raise PermanentError(f"the shopify connector has no stream {name!r}") from None


def create_connector(instance: str, config: ShopifyConfig, secrets: Mapping[str, str]) -> ShopifyConnector:
    """The ``ConnectorType`` factory: ``secrets`` maps ``token_env`` and ``webhook_secret_env`` to values."""
    return ShopifyConnector(
        instance,
        config,
        token=secrets["token_env"],
        webhook_secrets=[part.strip() for part in secrets.get("webhook_secret_env", "").split(",")],
    )


def _page(data: Mapping[str, Any], connection: str) -> tuple[list[Any], str | None]:
    """A connection's nodes and, if there is a next page, its ``endCursor``."""
    page = data.get(connection)
    nodes = page.get("nodes") if isinstance(page, dict) else None
    info = page.get("pageInfo") if isinstance(page, dict) else None
    if not isinstance(nodes, list) or not isinstance(info, dict):
        raise PermanentError(f"{connection}: answer is not a connection (no nodes or pageInfo)")
    end_cursor = info.get("endCursor")
    if info.get("hasNextPage") is True:
        if not isinstance(end_cursor, str) or not end_cursor:
            raise PermanentError(f"{connection}: a next page without an endCursor")
        return nodes, end_cursor
    return nodes, None


def _high_water(records: Sequence[CanonicalRecord | Rejected], previous: datetime | None) -> datetime | None:
    """The latest ``updatedAt`` of the page's valid records (a page of rejects keeps the previous mark)."""
    seen = [record.source_updated_at for record in records if isinstance(record, CanonicalRecord)]
    return max(seen, default=previous)
