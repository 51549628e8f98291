"""Outbound changes to a shop's customers: rank and segment tags, and the rank and points as metafields.

``member.rank`` removes the old rank's tag, adds the new one's and sets the metafields ``<namespace>.rank``
(``single_line_text_field``) and ``<namespace>.points`` (``number_integer``), in one mutation request.
``member.segments`` adds the tags of the segments joined and removes those of the segments left, one request
per customer. Only what changed is sent, never the full tag list: ``customerUpdate(tags:)`` would replace the
tags merchants and other apps set. Shopify takes no idempotency key on mutations, but each of these writes is
idempotent (a tag added twice is there once, removing an absent tag changes nothing), so a retried delivery
is harmless. THROTTLED and 5xx are retried by the client; a userError is permanent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from connectors.shopify.client import ShopifyClient
from connectors.shopify.config import ShopifyConfig
from connectors.shopify.queries import customer_writes
from core.errors import PermanentError
from core.sync.contract import RANK_MESSAGE, SEGMENTS_MESSAGE, OutboundMessage
from core.sync.mapping import rejection_reason

_CUSTOMER_ID = re.compile(r"^gid://shopify/Customer/\d+$")
# The syntax of rank and segment codes in the loyalty rules: no comma, so a code never splits a tag in two.
_Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class CustomerRefused(PermanentError):
    """One customer's write cannot be made (no Shopify customer, a userError); other customers' writes can."""


class _Payload(BaseModel):
    # Keys the hub may add later are ignored rather than refused: the payload is the hub's own.
    model_config = ConfigDict(extra="ignore", frozen=True)


class RankChange(_Payload):
    """Payload of ``member.rank`` (``core.loyalty.rank_messages``)."""

    member_id: UUID
    customer_id: str | None = None
    from_rank: _Code | None = None
    to_rank: _Code
    points_available: Annotated[int, Field(ge=0)]


class SegmentChange(_Payload):
    """One entry of a ``member.segments`` payload (``core.loyalty.segments``)."""

    member_id: UUID
    customer_id: str | None = None
    joined: tuple[_Code, ...] = ()
    left: tuple[_Code, ...] = ()


class SegmentChanges(_Payload):
    """Payload of ``member.segments``: up to 500 changes."""

    changes: Annotated[tuple[SegmentChange, ...], Field(max_length=500)]


class CustomerWriter:
    """Delivers ``member.rank`` and ``member.segments`` messages to one shop through its ``ShopifyClient``."""

    kinds: tuple[str, ...] = (RANK_MESSAGE, SEGMENTS_MESSAGE)

    def __init__(self, instance: str, client: ShopifyClient, config: ShopifyConfig) -> None:
        self.instance = instance
        self._client = client
        self._config = config
        self._writers: dict[str, Callable[[OutboundMessage], None]] = {
            RANK_MESSAGE: self._rank,
            SEGMENTS_MESSAGE: self._segments,
        }

    def deliver(self, message: OutboundMessage) -> None:
        """Push one message; ``PermanentError`` for a kind this writer does not know."""
        writer = self._writers.get(message.kind)
        if writer is None:
            raise PermanentError(f"the shopify connector does not write {message.kind!r} messages")
        writer(message)

    def _rank(self, message: OutboundMessage) -> None:
        change = _parse(RankChange, message)
        customer = self._customer(message.kind, change.member_id, change.customer_id)
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
        changes = _parse(SegmentChanges, message).changes
        refused: list[str] = []
        for change in changes:
            try:
                customer = self._customer(message.kind, change.member_id, change.customer_id)
                added = [_tag(self._config.segment_tag, code) for code in change.joined]
                removed = [_tag(self._config.segment_tag, code) for code in change.left]
                self._write(message.kind, customer, removed, added, [])
            except CustomerRefused as error:
                refused.append(str(error))
        if refused:
            raise PermanentError(f"{len(refused)} of {len(changes)} segment changes refused; first: {refused[0]}")

    def _customer(self, kind: str, member_id: UUID, customer_id: str | None) -> str:
        """The Shopify customer a message is for; names the member by id only, never by personal data."""
        if customer_id is None:
            raise CustomerRefused(f"{kind}: member {member_id} has no customer in shop {self.instance}")
        if not _CUSTOMER_ID.fullmatch(customer_id):
            raise CustomerRefused(f"{kind}: the customer id of member {member_id} is not a Shopify customer id")
        return customer_id

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
            _raise_user_errors(kind, part, data.get(part))


_P = TypeVar("_P", bound=_Payload)


def _parse(model: type[_P], message: OutboundMessage) -> _P:
    try:
        return model.model_validate(message.payload)
    except ValidationError as error:
        raise PermanentError(f"{message.kind} payload invalid: {rejection_reason(error)}") from None


def _tag(pattern: str, code: str) -> str:
    return pattern.replace("{code}", code)


def _raise_user_errors(kind: str, part: str, payload: Any) -> None:
    """Refuse a write Shopify answered with userErrors (or without its payload, after a top-level error).

    The inputs carry no personal data (ids, tags, rank codes, a number), so a userError's field and message,
    which can only echo them, are safe to keep; they are cut short all the same.
    """
    if not isinstance(payload, Mapping):
        raise CustomerRefused(f"{kind}: Shopify answered the {part} write without its payload")
    errors = payload.get("userErrors") or []
    if errors:
        first = errors[0] if isinstance(errors[0], Mapping) else {}
        field = ".".join(str(step) for step in first.get("field") or ()) or "-"
        code = f" [{first['code']}]" if first.get("code") else ""
        message = str(first.get("message", ""))[:200]
        raise CustomerRefused(f"{kind}: Shopify refused the {part} write: {field}{code}: {message}")
