"""The supervisor's pages: the review queue, points adjustments, merge history, merges and unmerges."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from core.access import Principal, Role, Scope
from core.members.audit import record_member_access
from hub.web.api.supervision import (
    MAX_ID,
    MAX_POINTS,
    MERGE_REASON_MAX,
    NOTE_MAX,
    REASON_MAX,
    TEXT_PATTERN,
    adjust_cluster_points,
    review_queue,
)
from hub.web.auth import require
from hub.web.pages import render
from hub.web.state import WebState, request_id, web_state

router = APIRouter(include_in_schema=False)
LoyaltyWriter = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.LOYALTY_WRITE))]
IdentityWriter = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.IDENTITY_WRITE))]
State = Annotated[WebState, Depends(web_state)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
Note = Annotated[str, Form(min_length=1, max_length=NOTE_MAX, pattern=TEXT_PATTERN)]
MergeReason = Annotated[str, Form(min_length=1, max_length=MERGE_REASON_MAX, pattern=TEXT_PATTERN)]
MemberReference = Annotated[str, Form(min_length=1, max_length=64)]
PAGE_SIZE = 25


@router.get("/review")
def review_page(
    request: Request,
    principal: IdentityWriter,
    state: State,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    """The open pairs of possible duplicates, oldest first, each with accept and reject forms."""
    items = review_queue(state).items(status="open", limit=PAGE_SIZE, after_id=after_id)
    numbers = _member_numbers(state, [i.member_id for i in items] + [i.candidate_id for i in items])
    next_after = items[-1].id if len(items) == PAGE_SIZE else None
    return render(request, "review.html", items=items, numbers=numbers, next_after=next_after)


@router.post("/review/{item_id}/accept")
def accept_review_item(item_id: ItemId, principal: IdentityWriter, state: State, note: Note) -> Response:
    """Merge the pair (the older member survives), then back to the queue."""
    review_queue(state).accept(item_id, actor=principal.actor, note=note)
    return RedirectResponse("/review", status_code=303)


@router.post("/review/{item_id}/reject")
def reject_review_item(item_id: ItemId, principal: IdentityWriter, state: State, note: Note) -> Response:
    """Record that the pair are different people, then back to the queue."""
    review_queue(state).reject(item_id, actor=principal.actor, note=note)
    return RedirectResponse("/review", status_code=303)


@router.post("/members/{member_id}/points")
def adjust_points(
    request: Request,
    member_id: UUID,
    principal: LoyaltyWriter,
    state: State,
    points: Annotated[int, Form(ge=-MAX_POINTS, le=MAX_POINTS)],
    reason: Annotated[str, Form(min_length=1, max_length=REASON_MAX, pattern=TEXT_PATTERN)],
) -> Response:
    """Credit or debit points by hand (a debit beyond the balance is refused), then back to the member."""
    key = f"{principal.actor.name}:adjust:{uuid4().hex}"
    adjust_cluster_points(state, principal, member_id, points, reason, key, request_id(request))
    return RedirectResponse(f"/members/{member_id}#summary", status_code=303)


@router.get("/members/{member_id}/merges")
def merges_page(request: Request, member_id: UUID, principal: IdentityWriter, state: State) -> Response:
    """The merges of the member's cluster with an unmerge form for each one in force, and a merge form."""
    member = state.hub.members.get(member_id)
    history = state.hub.merges.history(member_id)
    numbers = _member_numbers(state, [member_id, *(e.survivor_id for e in history), *(e.merged_id for e in history)])
    record_member_access(state.hub.engine, principal.actor, "merges", member_id, request_id=request_id(request))
    return render(request, "merges.html", member=member, history=history, numbers=numbers)


@router.post("/members/{member_id}/unmerge")
def unmerge_member(member_id: UUID, principal: IdentityWriter, state: State, reason: MergeReason) -> Response:
    """Undo the merge that joined this member to another, then show its merge history."""
    state.hub.merges.unmerge(member_id, actor=principal.actor, reason=reason)
    return RedirectResponse(f"/members/{member_id}/merges", status_code=303)


@router.post("/merges")
def merge_members(
    principal: IdentityWriter, state: State, survivor: MemberReference, merged: MemberReference, reason: MergeReason
) -> Response:
    """Merge one member into another, named by member number or id in the form (never in the URL)."""
    kept, joined = state.hub.members.resolve(survivor), state.hub.members.resolve(merged)
    state.hub.merges.merge(kept.id, joined.id, actor=principal.actor, reason=reason)
    return RedirectResponse(f"/members/{kept.id}/merges", status_code=303)


def _member_numbers(state: WebState, member_ids: Iterable[UUID]) -> dict[UUID, str | None]:
    """The member number of each member, to show instead of its id (``None`` once erased)."""
    return {member_id: state.hub.members.get(member_id).member_number for member_id in set(member_ids)}
