"""Outbound changes to a shop: rank, segment and benefit tags and metafields here; coupons and consent beside.

``CustomerWriter`` is the connector's one writer: it takes ``member.rank``, ``member.segments`` and
``member.loyalty`` itself,
``coupon.issued`` through ``writers_discounts`` (a basic code discount per coupon) and ``member.consent``
through ``writers_consent`` (the customer's email marketing consent).

``member.rank`` removes the old rank's tag, adds the new one's and sets the metafields ``<namespace>.rank``
(``single_line_text_field``) and ``<namespace>.points`` (``number_integer``), in one mutation request.
``member.segments`` adds the tags of the segments joined and removes those of the segments left, one request
per customer. ``member.loyalty`` gives the customer the tags of its rank's benefit flags (``benefit:<flag>``),
removes those of the rules' other flags (the message's ``rank_flags``) and sets ``<namespace>.benefits``
(``json``, the list of flags), one request per customer; a status without flags (an older hub) is skipped.
Only what changed is sent, never the full tag list: ``customerUpdate(tags:)`` would replace the
tags merchants and other apps set. Shopify takes no idempotency key on mutations, but each of these writes is
idempotent (a tag added twice is there once, removing an absent tag changes nothing), so a retried delivery
is harmless. THROTTLED and 5xx are retried by the client; a userError is permanent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StringConstraints

from connectors.shopify.client import ShopifyClient
from connectors.shopify.config import ShopifyConfig
from connectors.shopify.queries import customer_writes
from connectors.shopify.writers_consent import ConsentWriter
from connectors.shopify.writers_discounts import DiscountWriter
from connectors.shopify.writers_messages import (
    CustomerRefused,
    MessagePayload,
    parse_payload,
    raise_user_errors,
    shopify_customer,
)
from core.errors import PermanentError
from core.sync.contract import (
    CONSENT_MESSAGE,
    COUPON_MESSAGE,
    RANK_MESSAGE,
    SEGMENTS_MESSAGE,
    STATUS_MESSAGE,
    OutboundMessage,
)

# The syntax of rank and segment codes in the loyalty rules: no comma, so a code never splits a tag in two.
_Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class RankChange(MessagePayload):
    """Payload of ``member.rank`` (``core.loyalty.rank_messages``)."""

    member_id: UUID
    customer_id: str | None = None
    from_rank: _Code | None = None
    to_rank: _Code
    points_available: Annotated[int, Field(ge=0)]


class SegmentChange(MessagePayload):
    """One entry of a ``member.segments`` payload (``core.loyalty.segments``)."""

    member_id: UUID
    customer_id: str | None = None
    joined: tuple[_Code, ...] = ()
    left: tuple[_Code, ...] = ()


class SegmentChanges(MessagePayload):
    """Payload of ``member.segments``: up to 500 changes."""

    changes: Annotated[tuple[SegmentChange, ...], Field(max_length=500)]


class StatusChange(MessagePayload):
    """One entry of a ``member.loyalty`` payload (``core.loyalty.status_messages``); only the flags are written."""

    member_id: UUID
    customer_id: str | None = None
    flags: tuple[_Code, ...] | None = None


class StatusChanges(MessagePayload):
    """Payload of ``member.loyalty``: up to 500 changes, and every benefit flag of the rules."""

    changes: Annotated[tuple[StatusChange, ...], Field(max_length=500)]
    rank_flags: tuple[_Code, ...] = ()


class CustomerWriter:
    """Delivers the hub's outbound messages to one shop through its ``ShopifyClient``.

    ``clock`` (aware ``datetime``) dates what a write starts from: a discount code's ``startsAt``.
    """

    kinds: tuple[str, ...] = (RANK_MESSAGE, SEGMENTS_MESSAGE, STATUS_MESSAGE, COUPON_MESSAGE, CONSENT_MESSAGE)

    def __init__(
        self,
        instance: str,
        client: ShopifyClient,
        config: ShopifyConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.instance = instance
        self._client = client
        self._config = config
        self._writers: dict[str, Callable[[OutboundMessage], None]] = {
            RANK_MESSAGE: self._rank,
            SEGMENTS_MESSAGE: self._segments,
            STATUS_MESSAGE: self._benefits,
            COUPON_MESSAGE: DiscountWriter(instance, client, clock).deliver,
            CONSENT_MESSAGE: ConsentWriter(instance, client).deliver,
        }

    def deliver(self, message: OutboundMessage) -> None:
        """Push one message; ``PermanentError`` for a kind this writer does not know."""
        writer = self._writers.get(message.kind)
        if writer is None:
            raise PermanentError(f"the shopify connector does not write {message.kind!r} messages")
        writer(message)

    def _rank(self, message: OutboundMessage) -> None:
        change = parse_payload(RankChange, message)
        customer = shopify_customer(message.kind, self.instance, change.member_id, change.customer_id)
        stale = change.from_rank if change.from_rank != change.to_rank else None
        removed = [_tag(self._config.rank_tag, stale)] if stale else []
        namespace = self._config.metafield_namespace
        metafields = [
            {"ownerId": customer, "namespace": namespace, "key": "rank", "type": "single_line_text_field",
             "value": change.to_rank},
            {"ownerId": customer, "namespace": namespace, "key": "points", "type": "number_integer",
             "value": str(change.points_available)},
        ]  # fmt: skip
        self._write(message.kind, customer, removed, [_tag(self._config.rank_tag, change.to_rank)], metafields)

    def _segments(self, message: OutboundMessage) -> None:
        """Every change is tried; refused customers are reported together after the others went through.

        Any other error (THROTTLED for too long, a revoked token) stops the batch: a retry repeats it, harmlessly.
        """
        changes = parse_payload(SegmentChanges, message).changes
        refused: list[str] = []
        for change in changes:
            try:
                customer = shopify_customer(message.kind, self.instance, change.member_id, change.customer_id)
                added = [_tag(self._config.segment_tag, code) for code in change.joined]
                removed = [_tag(self._config.segment_tag, code) for code in change.left]
                self._write(message.kind, customer, removed, added, [])
            except CustomerRefused as error:
                refused.append(str(error))
        _report(refused, len(changes), "segment changes")

    def _benefits(self, message: OutboundMessage) -> None:
        """The benefit tags and metafield of each customer; refused customers are reported after the others."""
        payload = parse_payload(StatusChanges, message)
        refused: list[str] = []
        for change in payload.changes:
            if change.flags is None:
                continue
            try:
                customer = shopify_customer(message.kind, self.instance, change.member_id, change.customer_id)
            except CustomerRefused as error:
                refused.append(str(error))
                continue
            added = [_tag(self._config.benefit_tag, flag) for flag in change.flags]
            removed = [_tag(self._config.benefit_tag, flag) for flag in payload.rank_flags if flag not in change.flags]
            benefits = {"ownerId": customer, "namespace": self._config.metafield_namespace, "key": "benefits",
                        "type": "json", "value": json.dumps(list(change.flags))}  # fmt: skip
            self._write(message.kind, customer, removed, added, [benefits])
        _report(refused, len(payload.changes), "status changes")

    def _write(
        self, kind: str, customer: str, removed: Sequence[str], added: Sequence[str], metafields: Sequence[Any]
    ) -> None:
        """Send only the writes with something to do, in one request; a userError is a ``PermanentError``."""
        writes = {"remove": list(removed), "add": list(added), "metafields": list(metafields)}
        parts = [part for part, values in writes.items() if values]
        if not parts:
            return
        variables: dict[str, Any] = {part: writes[part] for part in parts}
        if removed or added:
            variables["id"] = customer
        data = self._client.query(f"customer-writes:{'+'.join(parts)}", customer_writes(parts), variables)
        for part in parts:
            raise_user_errors(kind, part, data.get(part))


def _report(refused: list[str], total: int, what: str) -> None:
    if refused:
        raise PermanentError(f"{len(refused)} of {total} {what} refused; first: {refused[0]}")


def _tag(pattern: str, code: str) -> str:
    return pattern.replace("{code}", code)
