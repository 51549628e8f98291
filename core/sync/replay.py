"""Replaying a dead letter: map or validate the quarantined record again and store it exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine

from core.errors import MemberHubError
from core.events import Publish, no_observers
from core.records import CanonicalRecord, Record
from core.store import sync as repo
from core.sync.contract import RawRecordMapper, Rejected
from core.sync.dead_letters import open_payload
from core.sync.payloads import PayloadSealer
from core.sync.registry import ConnectorRegistry
from core.sync.sink import RecordSink

_RECORD = TypeAdapter(Record)


@dataclass(frozen=True)
class ReplayOutcome:
    """Whether the record is now stored, and if not, why (PII-free)."""

    dead_letter_id: int
    stored: bool
    reason: str


class DeadLetterNotFoundError(MemberHubError):
    """No pending dead letter with that id."""

    exit_code = 4


def replay_dead_letter(
    engine: Engine,
    sealer: PayloadSealer,
    sink: RecordSink,
    registry: ConnectorRegistry,
    dead_letter_id: int,
    now: datetime,
    *,
    publish: Publish = no_observers,
) -> ReplayOutcome:
    """Store a quarantined record if it now passes; it stays pending (with the new reason) if it does not.

    Idempotent: the record goes through the same upsert as a sync, and the dead letter is marked replayed in
    the same transaction, so replaying twice (or concurrently) stores it once.
    """
    with engine.connect() as conn:
        row = repo.get_dead_letter(conn, dead_letter_id)
    if row is None or row.status != "pending":
        raise DeadLetterNotFoundError(f"no pending dead letter with id {dead_letter_id}")
    record = _record_from(open_payload(sealer, row), registry, row.connector, row.stream)
    if isinstance(record, Rejected):
        return ReplayOutcome(dead_letter_id, False, record.reason)
    with engine.connect() as conn, conn.begin() as transaction:
        result = sink.apply(conn, [record])
        if result.refused:
            transaction.rollback()
            return ReplayOutcome(dead_letter_id, False, result.refused[0].reason)
        if not repo.mark_dead_letter(conn, dead_letter_id, "replayed", now):
            transaction.rollback()
            raise DeadLetterNotFoundError(f"dead letter {dead_letter_id} was replayed meanwhile")
    publish(result.events)
    return ReplayOutcome(dead_letter_id, True, "stored")


def _record_from(
    envelope: dict[str, object], registry: ConnectorRegistry, connector: str, stream: str
) -> CanonicalRecord | Rejected:
    if envelope.get("format") == "canonical":
        try:
            return _RECORD.validate_python(envelope["record"])
        except ValidationError as error:
            return Rejected(None, f"stored record no longer validates ({error.error_count()} error(s))", "")
    mapper = registry.build(connector)
    try:
        if not isinstance(mapper, RawRecordMapper):
            return Rejected(None, f"connector {connector!r} cannot re-map raw records", "")
        return mapper.map_raw(stream, str(envelope.get("raw", "")))
    finally:
        mapper.close()
