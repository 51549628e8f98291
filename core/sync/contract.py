"""What a connector is: the declarations and the few methods the engine calls (DESIGN §3).

A connector package declares a ``ConnectorType`` (name, config model, factory) and registers it through the
``memberhub_connector_types`` hook. An instance declares its ``streams``, implements ``check`` and ``read``;
webhooks and outbound writers are optional capabilities. Retry, pagination state, cursors, quarantine and
isolation belong to `core.sync`: a connector only maps one page of its API to canonical records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from core.records import CanonicalRecord


@dataclass(frozen=True)
class StreamSpec:
    """A stream, declared: its name, the record type it yields and how it can be read."""

    name: str
    record_type: type[CanonicalRecord]
    cursor_field: str = "updated_at"
    primary_key: str = "id"
    incremental: bool = True
    backfill: bool = True


@dataclass(frozen=True)
class Rejected:
    """A source record that could not be mapped or validated; the engine quarantines it as a dead letter.

    ``reason`` is shown to operators and logged, so it must not contain personal data; ``payload`` (the raw
    record as text) is encrypted before it is stored.
    """

    external_id: str | None
    reason: str
    payload: str


@dataclass(frozen=True)
class Batch:
    """One page of a stream: its records (or rejects) and the opaque cursor reached after it."""

    records: Sequence[CanonicalRecord | Rejected]
    cursor: str | None


@dataclass(frozen=True)
class CheckResult:
    """Outcome of ``Connector.check``: credentials valid and the system reachable, with a one-line message."""

    ok: bool
    message: str


RANK_MESSAGE = "member.rank"
"""Outbox kind of a rank change (``core.loyalty.rank_messages``; payload in docs/loyalty.md)."""
SEGMENTS_MESSAGE = "member.segments"
"""Outbox kind of a batch of segment changes (``core.loyalty.segments``; payload in docs/loyalty.md)."""
CONSENT_MESSAGE = "member.consent"
"""Outbox kind of a member's new email marketing consent (``core.sync.consent_messages``; docs/connector-guide.md)."""
COUPON_MESSAGE = "coupon.issued"
"""Outbox kind of a newly issued coupon (``core.loyalty.coupon_messages``; payload in docs/loyalty.md)."""
INQUIRY_LOGGED_MESSAGE = "inquiry.logged"
"""Outbox kind of an inquiry logged in the console, for the helpdesk (``core.members.inquiries``; docs/console.md)."""
INQUIRY_UPDATED_MESSAGE = "inquiry.updated"
"""Outbox kind of a console inquiry's new status or note (``core.members.inquiries``; docs/console.md)."""
CALL_CENTER_MESSAGE = "survey.call_center"
"""Outbox kind of a survey answer the call center must follow up (``core.loyalty.surveys``; docs/loyalty.md)."""
PROFILE_MESSAGE = "member.profile"
"""Outbox kind of a member's changed profile fields (``core.sync.profile_messages``; docs/connector-guide.md)."""
STATUS_MESSAGE = "member.loyalty"
"""Outbox kind of changed loyalty statuses: rank, points, segments (``core.loyalty.status_messages``)."""
EXPIRING_MESSAGE = "points.expiring"
"""Outbox kind of a notice of points about to expire (``core.loyalty.expiry_notices``; payload in docs/loyalty.md)."""


@dataclass(frozen=True)
class OutboundMessage:
    """A change to push to an external system, read from the outbox."""

    kind: str
    idempotency_key: str
    payload: Mapping[str, Any]
    member_id: str | None = None


@runtime_checkable
class Connector(Protocol):
    """One configured instance of a connector type (for example the ``tokyo-shop`` Shopify store)."""

    instance: str
    streams: Sequence[StreamSpec]

    def check(self) -> CheckResult:
        """Test credentials and reachability without reading data."""
        ...

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """Yield batches after ``cursor`` (``None``: from the beginning), each with the cursor reached."""
        ...

    def close(self) -> None:
        """Release HTTP clients and other resources."""
        ...


@runtime_checkable
class Backfiller(Protocol):
    """Optional capability: a connector that reads a whole stream through its system's export path.

    The engine calls ``backfill`` instead of ``read`` in the backfill lane (``hub sync --full-refresh``). Its
    batches carry cursors the connector alone understands, from which an interrupted backfill resumes; the
    last batch's cursor is a ``StreamCursor`` marking where incremental reading may take over (records
    changed since then), which the engine hands to the incremental lane if it is behind.
    """

    def backfill(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """Yield batches of the whole stream, resuming after ``cursor`` (``None``: start an export)."""
        ...


@runtime_checkable
class SlicedBackfiller(Protocol):
    """Optional capability: a stream whose full refresh splits into slices that run in parallel.

    ``hub sync --full-refresh --slices N`` and the workers' ``backfill`` task plan a backfill with
    ``backfill_slices`` once, store the slices, and run each through ``backfill_slice`` — on as many threads
    or workers as there are. Slices are disjoint and together hold every record of the stream once; each
    resumes from the cursor of its last committed batch. The slice holding the newest records ends on a
    ``StreamCursor``, which the engine hands to the incremental lane when the last slice finishes.
    """

    def backfill_slices(self, stream: str, count: int) -> Sequence[str]:
        """At most ``count`` slices of ``stream`` (text the connector alone understands), oldest records first."""
        ...

    def backfill_slice(self, stream: str, part: str, cursor: str | None) -> Iterator[Batch]:
        """Yield batches of one slice, resuming after ``cursor`` (``None``: from the slice's start)."""
        ...


@runtime_checkable
class WebhookReceiver(Protocol):
    """Optional capability: a connector that receives webhooks."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> str:
        """Authenticate a delivery over its raw body and return its delivery id; raise ``WebhookRejected``."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[CanonicalRecord | Rejected]:
        """Map a verified delivery to records (called only after ``verify_webhook`` succeeded)."""
        ...


@runtime_checkable
class OutboundWriter(Protocol):
    """Optional capability: a connector that pushes hub changes to its system."""

    outbound_kinds: Sequence[str]

    def deliver(self, message: OutboundMessage) -> None:
        """Push one change; raise ``RetryableError`` to try again later, ``PermanentError`` to give up."""
        ...


@runtime_checkable
class RawRecordMapper(Protocol):
    """Optional capability: map one raw source object again, so a quarantined record can be replayed."""

    def map_raw(self, stream: str, raw: str) -> CanonicalRecord | Rejected:
        """The record for a raw object as the connector's ``read`` would have mapped it."""
        ...


ConnectorFactory = Callable[[str, Any, Mapping[str, str]], Connector]


@dataclass(frozen=True)
class ConnectorType:
    """A kind of external system the hub can talk to.

    ``config_model`` validates an instance's table in ``hub.toml``; ``secrets`` names the config keys that
    hold *names of environment variables* (never the secret itself); ``factory(instance, config, secrets)``
    builds a connector from the validated config and the resolved secret values; ``streams`` declares the
    streams every instance offers (the engine checks each record's type against its stream).
    """

    name: str
    description: str
    config_model: type[BaseModel]
    factory: ConnectorFactory
    secrets: tuple[str, ...] = field(default=())
    streams: tuple[StreamSpec, ...] = field(default=())
