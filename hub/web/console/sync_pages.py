"""The supervisor's sync pages: connector health at a glance, the dead letters, and their replay."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from core.access import Principal, Role, Scope
from hub.web.api.operations import DeadLetterStatus, list_dead_letters, recent_runs, replay_pending, sync_health
from hub.web.auth import require
from hub.web.pages import render
from hub.web.state import RowId, WebState, web_state

router = APIRouter(include_in_schema=False)
SyncReader = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.SYNC_READ))]
SyncWriter = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.SYNC_WRITE))]
State = Annotated[WebState, Depends(web_state)]
RECENT_RUNS = 20
DEAD_LETTERS_SHOWN = 200


@router.get("/sync")
def sync_page(request: Request, principal: SyncReader, state: State) -> Response:
    """One row per connector instance: last run, breaker, dead letters, outbox backlog; then the latest runs."""
    health = sync_health(state.hub)
    runs = recent_runs(state.hub, connector=None, limit=RECENT_RUNS)
    return render(request, "sync.html", view="health", health=health, runs=runs)


@router.get("/sync/dead-letters")
def dead_letters_page(
    request: Request,
    principal: SyncWriter,
    state: State,
    connector: Annotated[str | None, Query(max_length=64)] = None,
    status: DeadLetterStatus = "pending",
    replayed: int | None = None,
    outcome: Literal["stored", "refused"] | None = None,
) -> Response:
    """Quarantined records (without payloads), newest first, each with a replay button while pending."""
    letters = list_dead_letters(state.hub, connector=connector or None, status=status, limit=DEAD_LETTERS_SHOWN)
    return render(
        request, "sync.html", view="dead_letters", letters=letters, connector=connector or "", chosen_status=status,
        connectors=sorted(state.hub.config.connectors), replayed=replayed, outcome=outcome,
    )  # fmt: skip


@router.post("/sync/dead-letters/{dead_letter_id}/replay")
def replay(dead_letter_id: RowId, principal: SyncWriter, state: State) -> Response:
    """Replay one dead letter, then back to the list with the outcome."""
    outcome = replay_pending(state.hub, dead_letter_id)
    result = "stored" if outcome.stored else "refused"
    return RedirectResponse(f"/sync/dead-letters?replayed={dead_letter_id}&outcome={result}", status_code=303)
