"""``/api/v1/sync`` and ``/api/v1/dead-letters``: connector health, sync runs, quarantined records and their replay."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import Row

from core.access import Principal, Role, Scope
from core.members.audit import DEAD_LETTER_VIEW, record_member_access
from core.store import sync as repo
from core.sync.breaker import CircuitBreaker
from core.sync.dead_letters import open_payload
from core.sync.registry import InstanceConfig
from core.sync.replay import DeadLetterNotFoundError, ReplayOutcome, replay_dead_letter
from hub.runtime import Hub
from hub.web.auth import require
from hub.web.state import RowId, WebState, request_id, web_state

router = APIRouter(prefix="/api/v1", tags=["operations"])
SyncReader = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.SYNC_READ))]
SyncWriter = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.SYNC_WRITE))]
State = Annotated[WebState, Depends(web_state)]
Connector = Annotated[str | None, Query(max_length=64, description="only this connector instance")]
Limit = Annotated[int, Query(ge=1, le=1000)]
DeadLetterStatus = Literal["pending", "replayed", "discarded", "all"]


class RunView(BaseModel):
    """One sync run of one stream: timing, counts and outcome."""

    id: int
    connector: str
    stream: str
    lane: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    records_read: int
    records_written: int
    records_quarantined: int
    error_class: str | None


class BreakerView(BaseModel):
    """A connector instance's circuit breaker (``closed`` while it never failed)."""

    state: str
    consecutive_failures: int
    opened_at: datetime | None
    next_probe_at: datetime | None
    last_error_class: str | None


class Backlog(BaseModel):
    """Outbound messages waiting for a destination, and those it gave up on."""

    pending: int = 0
    failed: int = 0


class DestinationBacklog(Backlog):
    """The backlog of one outbox destination."""

    destination: str


class ConnectorHealth(BaseModel):
    """Everything a supervisor checks about one configured connector instance."""

    name: str
    type: str
    enabled: bool
    schedule: str | None
    last_run: RunView | None
    breaker: BreakerView
    dead_letters: int
    outbox: Backlog


class SyncHealth(BaseModel):
    """Every configured connector instance, and the outbox backlog of every destination."""

    connectors: list[ConnectorHealth]
    outbox: list[DestinationBacklog]


class DeadLetterView(BaseModel):
    """A quarantined record without its payload."""

    id: int
    connector: str
    stream: str
    external_id: str | None
    reason: str
    error_class: str
    status: str
    created_at: datetime
    replayed_at: datetime | None


class DeadLetterDetail(DeadLetterView):
    """A quarantined record with its decrypted payload (personal data; every opening is audited)."""

    payload: dict[str, Any]


class ReplayResult(BaseModel):
    """Whether the replayed record is now stored, and if not, why (PII-free)."""

    dead_letter_id: int
    stored: bool
    reason: str


@router.get("/sync/health", response_model=SyncHealth)
def health(principal: SyncReader, state: State) -> SyncHealth:
    """Last run, breaker, open dead letters and outbox backlog of every configured connector instance."""
    return sync_health(state.hub)


@router.get("/sync/runs", response_model=list[RunView])
def runs(principal: SyncReader, state: State, connector: Connector = None, limit: Limit = 50) -> list[RunView]:
    """The newest sync runs first."""
    return recent_runs(state.hub, connector=connector, limit=limit)


@router.get("/dead-letters", response_model=list[DeadLetterView])
def dead_letters(
    principal: SyncWriter, state: State, connector: Connector = None, status: DeadLetterStatus = "pending",
    limit: Limit = 50,
) -> list[DeadLetterView]:  # fmt: skip
    """Quarantined records, newest first, without their payloads."""
    return list_dead_letters(state.hub, connector=connector, status=status, limit=limit)


@router.get("/dead-letters/{dead_letter_id}", response_model=DeadLetterDetail)
def dead_letter(dead_letter_id: RowId, principal: SyncWriter, state: State, request: Request) -> DeadLetterDetail:
    """One quarantined record with its decrypted payload; the opening is written to the audit log."""
    hub = state.hub
    with hub.engine.connect() as conn:
        row = repo.get_dead_letter(conn, dead_letter_id)
    if row is None:
        raise HTTPException(404, f"no dead letter with id {dead_letter_id}")
    payload = open_payload(hub.dead_letters, row)
    record_member_access(
        hub.engine, principal.actor, DEAD_LETTER_VIEW, None, detail={"dead_letter": dead_letter_id},
        request_id=request_id(request),
    )  # fmt: skip
    return DeadLetterDetail.model_validate({**row._mapping, "payload": payload})


@router.post("/dead-letters/{dead_letter_id}/replay", response_model=ReplayResult)
def replay(dead_letter_id: RowId, principal: SyncWriter, state: State) -> ReplayResult:
    """Map or validate a quarantined record again and store it if it now passes (idempotent)."""
    outcome = replay_pending(state.hub, dead_letter_id)
    return ReplayResult(dead_letter_id=outcome.dead_letter_id, stored=outcome.stored, reason=outcome.reason)


def sync_health(hub: Hub) -> SyncHealth:
    """The health of every configured connector instance (the API and the console page show this)."""
    with hub.engine.connect() as conn:
        last_runs = {name: repo.recent_runs(conn, limit=1, connector=name) for name in hub.config.connectors}
        dead = Counter[str]()
        for (connector, _stream), count in repo.count_dead_letters(conn).items():
            dead[connector] += count
        outbox = _backlogs(repo.outbox_counts(conn))
    connectors = [
        _connector_health(hub, instance, last_runs[name], dead[name], outbox.get(name))
        for name, instance in sorted(hub.config.connectors.items())
    ]
    return SyncHealth(connectors=connectors, outbox=[outbox[name] for name in sorted(outbox)])


def recent_runs(hub: Hub, *, connector: str | None, limit: int) -> list[RunView]:
    """The newest sync runs first."""
    with hub.engine.connect() as conn:
        return [_run(row) for row in repo.recent_runs(conn, limit=limit, connector=connector)]


def list_dead_letters(hub: Hub, *, connector: str | None, status: DeadLetterStatus, limit: int) -> list[DeadLetterView]:
    """Quarantined records, newest first, without their payloads."""
    with hub.engine.connect() as conn:
        rows = repo.list_dead_letters(
            conn, status=None if status == "all" else status, connector=connector, limit=limit
        )
    return [DeadLetterView.model_validate(dict(row._mapping)) for row in rows]


def replay_pending(hub: Hub, dead_letter_id: int) -> ReplayOutcome:
    """Replay one pending dead letter the way ``hub deadletters replay`` does; 404 if it is not pending."""
    try:
        return replay_dead_letter(
            hub.engine, hub.dead_letters, hub.sink, hub.registry, dead_letter_id, hub.members.clock(),
            publish=hub.publish,
        )  # fmt: skip
    except DeadLetterNotFoundError as error:
        raise HTTPException(404, str(error)) from None


def _connector_health(
    hub: Hub, instance: InstanceConfig, last_run: list[Row[Any]], dead_letters: int, outbox: Backlog | None
) -> ConnectorHealth:
    breaker = CircuitBreaker(hub.engine, instance.name).state()
    return ConnectorHealth(
        name=instance.name,
        type=instance.type,
        enabled=instance.enabled,
        schedule=instance.schedule,
        last_run=_run(last_run[0]) if last_run else None,
        breaker=BreakerView.model_validate(breaker, from_attributes=True),
        dead_letters=dead_letters,
        outbox=Backlog(pending=outbox.pending, failed=outbox.failed) if outbox else Backlog(),
    )


def _backlogs(counts: dict[tuple[str, str], int]) -> dict[str, DestinationBacklog]:
    destinations = {destination for destination, _status in counts}
    return {
        name: DestinationBacklog(
            destination=name, pending=counts.get((name, "pending"), 0), failed=counts.get((name, "failed"), 0)
        )
        for name in destinations
    }


def _run(row: Row[Any]) -> RunView:
    return RunView.model_validate(dict(row._mapping))
