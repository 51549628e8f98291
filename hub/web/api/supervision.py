"""``/api/v1`` for supervisors: points adjustments, coupons, the review queue of possible duplicates, merges."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, WithJsonSchema

from core.access import Principal, Role, Scope
from core.identity.review import ReviewQueue
from core.loyalty import PointsMovement
from core.members.audit import record_member_access
from core.store.database import read_only
from hub.web.auth import require
from hub.web.state import WebState, request_id, web_state

router = APIRouter(prefix="/api/v1", tags=["supervision"])
Reader = Annotated[Principal, Depends(require(Role.OPERATOR, Scope.MEMBERS_READ))]
LoyaltyWriter = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.LOYALTY_WRITE))]
IdentityWriter = Annotated[Principal, Depends(require(Role.SUPERVISOR, Scope.IDENTITY_WRITE))]
State = Annotated[WebState, Depends(web_state)]

MAX_POINTS = 1_000_000
MAX_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL (bigint) store
REASON_MAX = 255  # the ledger keeps at most 255 characters (core/loyalty/accounts.py)
MERGE_REASON_MAX = 500  # the merge log keeps at most 500 (core/identity/service.py)
NOTE_MAX = 400  # accepting prefixes the note with "review #<id> (<evidence>): " in the 500 of the merge log
# Text a person typed: no control characters but tab and line breaks (PostgreSQL refuses NUL), not all blank.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
_NEGATIVE_POINTS = {"minimum": -MAX_POINTS, "maximum": -1}  # "not 0" as two ranges: fuzzers draw from them well


def _whole_number(value: object) -> object:
    """JSON Schema's integer includes 2.0; strings and booleans stay refused (strict)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _not_zero(points: int) -> int:
    if points == 0:
        raise ValueError("an adjustment of 0 points changes nothing")
    return points


class ErrorDetail(BaseModel):
    """What went wrong, in one PII-free line; ``problems`` lists the invalid fields of a request."""

    code: str
    message: str
    request_id: str | None = None
    problems: list[dict[str, str]] | None = None


class ErrorBody(BaseModel):
    """An error answer as ``hub/web/errors.py`` writes it."""

    error: ErrorDetail


ERROR_MEANINGS = {
    400: "The body is not JSON",
    401: "No valid credentials",
    403: "The role or the token's scopes are too small",
    404: "No such member",
    410: "The member was erased",
    422: "The request is invalid or the hub refuses it",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route documents: 401, 403 and 422 always, and ``statuses``."""
    return {
        status: {"model": ErrorBody, "description": ERROR_MEANINGS[status]} for status in (401, 403, 422, *statuses)
    }


class PointsAdjustment(BaseModel):
    """Points to credit (positive) or debit (negative) by hand, and why (kept on the ledger entry)."""

    model_config = ConfigDict(extra="forbid")
    points: Annotated[
        int,
        BeforeValidator(_whole_number),
        Strict(),
        Field(ge=-MAX_POINTS, le=MAX_POINTS),
        WithJsonSchema({"type": "integer", "anyOf": [{"minimum": 1, "maximum": MAX_POINTS}, _NEGATIVE_POINTS]}),
        AfterValidator(_not_zero),
    ]
    reason: str = Field(min_length=1, max_length=REASON_MAX, pattern=TEXT_PATTERN)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The same key (per caller) never moves points twice; a repeat answers the first outcome.",
    )  # fmt: skip


class PointsBalance(BaseModel):
    """The points of a member's cluster (``member_id`` is its root) after the adjustment."""

    model_config = ConfigDict(from_attributes=True)
    member_id: UUID
    available: int
    pending: int
    lapsed: int
    next_expiry: datetime | None
    expiring: int


class PointsAdjusted(BaseModel):
    """The adjustment as recorded; ``replayed`` if its idempotency key had been used before."""

    source_event: str
    points: int
    replayed: bool
    balance: PointsBalance


class Coupon(BaseModel):
    """A coupon of the member's cluster; ``status`` is ``available``, ``used_up`` or ``expired``."""

    model_config = ConfigDict(from_attributes=True)
    code: str
    member_id: UUID
    template_code: str | None
    kind: str
    value_type: str
    value: int
    issued_at: datetime
    expires_at: datetime | None
    max_uses: int
    uses: int
    status: str


class Coupons(BaseModel):
    """The coupons of a cluster (``member_id`` is its root), newest first."""

    member_id: UUID
    coupons: list[Coupon]


class ReviewItem(BaseModel):
    """A queued pair of possible duplicates; ``kind`` names the evidence, never its values."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    member_id: UUID
    candidate_id: UUID
    kind: str
    evidence: str
    identifier: str | None
    source: str | None
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None
    merge_id: int | None


class ReviewItems(BaseModel):
    """One page of the queue, oldest first; ``next_after_id`` asks for the next page."""

    items: list[ReviewItem]
    next_after_id: int | None


class ReviewNote(BaseModel):
    """Why the supervisor decided as they did (kept with the decision)."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=NOTE_MAX, pattern=TEXT_PATTERN)


class ReviewDecision(BaseModel):
    """A decided item; an accepted one names the merge it made."""

    item_id: int
    status: Literal["accepted", "rejected"]
    merge_id: int | None


class MergeRequest(BaseModel):
    """Merge the cluster of ``merged_id`` into the cluster of ``survivor_id``."""

    model_config = ConfigDict(extra="forbid")
    survivor_id: UUID
    merged_id: UUID
    reason: str = Field(min_length=1, max_length=MERGE_REASON_MAX, pattern=TEXT_PATTERN)


class UnmergeRequest(BaseModel):
    """Why the merge is undone (kept in the merge log)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=MERGE_REASON_MAX, pattern=TEXT_PATTERN)


class MergeDone(BaseModel):
    """The merge made or undone."""

    merge_id: int


class MergeRecord(BaseModel):
    """One logged merge, undone or not."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    survivor_id: UUID
    merged_id: UUID
    kind: str
    identifier: str | None
    actor: str
    reason: str
    merged_at: datetime
    undone_at: datetime | None
    undone_by: str | None


class MergeHistory(BaseModel):
    """Every merge of the members of a cluster, oldest first."""

    merges: list[MergeRecord]


@router.post(
    "/members/{member_id}/points/adjustments", status_code=201, response_model=PointsAdjusted,
    responses=errors(400, 404, 410),
)  # fmt: skip
def adjust_points(
    member_id: UUID, body: PointsAdjustment, principal: LoyaltyWriter, state: State, request: Request
) -> PointsAdjusted:
    """Credit or debit points by hand; a debit beyond the spendable balance is refused (422) and nothing moves."""
    key = f"{principal.actor.name}:adjust:{body.idempotency_key or uuid4().hex}"
    moved = adjust_cluster_points(state, principal, member_id, body.points, body.reason, key, request_id(request))
    balance = PointsBalance.model_validate(moved.balance)
    return PointsAdjusted(source_event=key, points=moved.points, replayed=moved.replayed, balance=balance)


@router.get("/members/{member_id}/coupons", response_model=Coupons, responses=errors(404, 410))
def member_coupons(member_id: UUID, principal: Reader, state: State, request: Request) -> Coupons:
    """The coupons of the member's cluster: code, value, validity, uses and status; the reading is audited."""
    state.hub.members.get(member_id)  # an unknown member is a 404, not an empty list
    with read_only(state.hub.engine).begin() as conn:
        held = state.hub.loyalty.coupons(conn, member_id)
    record_member_access(state.hub.engine, principal.actor, "coupons", member_id, request_id=request_id(request))
    return Coupons(member_id=held.member_id, coupons=[Coupon.model_validate(c) for c in held.coupons])


@router.get("/review-items", response_model=ReviewItems, responses=errors())
def review_items(
    principal: IdentityWriter,
    state: State,
    status: Literal["open", "accepted", "rejected", "obsolete", "all"] = "open",
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReviewItems:
    """Queued pairs in queue order, ``limit`` at a time after ``after_id``."""
    found = review_queue(state).items(status=None if status == "all" else status, limit=limit, after_id=after_id)
    items = [ReviewItem.model_validate(item) for item in found]
    return ReviewItems(items=items, next_after_id=items[-1].id if len(items) == limit else None)


@router.post("/review-items/{item_id}/accept", response_model=ReviewDecision, responses=errors(400))
def accept_review_item(item_id: ItemId, body: ReviewNote, principal: IdentityWriter, state: State) -> ReviewDecision:
    """Merge the pair (the older member survives); a pair that is one member already is closed with a 422."""
    merge_id = review_queue(state).accept(item_id, actor=principal.actor, note=body.note)
    return ReviewDecision(item_id=item_id, status="accepted", merge_id=merge_id)


@router.post("/review-items/{item_id}/reject", response_model=ReviewDecision, responses=errors(400))
def reject_review_item(item_id: ItemId, body: ReviewNote, principal: IdentityWriter, state: State) -> ReviewDecision:
    """Record that the pair are different people; they are never proposed or merged automatically again."""
    review_queue(state).reject(item_id, actor=principal.actor, note=body.note)
    return ReviewDecision(item_id=item_id, status="rejected", merge_id=None)


@router.post("/merges", status_code=201, response_model=MergeDone, responses=errors(400, 404, 410))
def merge_members(body: MergeRequest, principal: IdentityWriter, state: State) -> MergeDone:
    """Merge one member into another: every link, purchase and ledger entry of both is kept."""
    merge_id = state.hub.merges.merge(body.survivor_id, body.merged_id, actor=principal.actor, reason=body.reason)
    return MergeDone(merge_id=merge_id)


@router.post("/members/{member_id}/unmerge", response_model=MergeDone, responses=errors(400, 404, 410))
def unmerge_member(member_id: UUID, body: UnmergeRequest, principal: IdentityWriter, state: State) -> MergeDone:
    """Undo the merge that joined this member to another; both are restored as they were."""
    state.hub.members.get(member_id)  # an unknown member is a 404, not "not merged"
    return MergeDone(merge_id=state.hub.merges.unmerge(member_id, actor=principal.actor, reason=body.reason))


@router.get("/members/{member_id}/merges", response_model=MergeHistory, responses=errors(404, 410))
def member_merges(member_id: UUID, principal: IdentityWriter, state: State) -> MergeHistory:
    """The merges of this member's cluster, undone ones included, oldest first."""
    state.hub.members.get(member_id)  # an unknown member is a 404, not an empty history
    return MergeHistory(merges=[MergeRecord.model_validate(entry) for entry in state.hub.merges.history(member_id)])


def review_queue(state: WebState) -> ReviewQueue:
    """The review queue, deciding through the hub's merges."""
    return ReviewQueue(state.hub.engine, state.hub.merges)


def adjust_cluster_points(
    state: WebState, principal: Principal, member_id: UUID, points: int, reason: str, key: str, request: str | None
) -> PointsMovement:
    """Adjust the points of the member's cluster in one transaction, publish what moved, and audit who did it."""
    hub = state.hub
    moved = hub.move_points(member_id, "adjust", points, reason, key)
    detail = {"points": points, "source_event": key, "replayed": moved.replayed}
    record_member_access(hub.engine, principal.actor, "points_adjust", member_id, request_id=request, detail=detail)
    return moved
