"""``/api/v1/members``: search (masked), open a member (summary, audited), timeline, inquiries."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from core.access import Principal, Role, Scope
from core.members.audit import record_member_access
from core.members.masking import mask_email, mask_phone
from core.members.profile import Member
from core.members.timeline import CHANNELS, KINDS, MAX_PAGE_SIZE
from hub.web.auth import require
from hub.web.state import RowId, WebState, request_id, web_state

router = APIRouter(prefix="/api/v1", tags=["members"])
Reader = Annotated[Principal, Depends(require(Role.OPERATOR, Scope.MEMBERS_READ))]
InquiryWriter = Annotated[Principal, Depends(require(Role.OPERATOR, Scope.INQUIRIES_WRITE))]
State = Annotated[WebState, Depends(web_state)]
Purpose = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9 _.:-]*$", description="why (audited)")]


class SearchRequest(BaseModel):
    """A phone number in any notation, an email, a member number, or an exact name or kana."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=200)


class MaskedMember(BaseModel):
    """A search result: contact details masked until the member is opened."""

    member_id: UUID
    member_number: str | None
    status: str
    name: str | None
    kana: str | None
    email: str | None
    phone: str | None
    rank: str | None


class SearchResults(BaseModel):
    """Members matching a search."""

    results: list[MaskedMember]


class InquiryRequest(BaseModel):
    """An inquiry an operator logs for a member."""

    model_config = ConfigDict(extra="forbid")
    channel: Literal["phone", "email", "chat", "web"]
    status: Literal["open", "pending", "solved", "closed"] = "open"
    category: str | None = Field(default=None, max_length=32, pattern=r"^[a-z0-9_-]+$")
    subject: str | None = Field(default=None, max_length=1_000)
    body: str = Field(min_length=1, max_length=65_536)


class InquiryUpdate(BaseModel):
    """A status change of a console inquiry, with an optional note for its thread."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "pending", "solved", "closed"]
    note: str | None = Field(default=None, min_length=1, max_length=65_536)


class InquiryLogged(BaseModel):
    """The inquiry as stored."""

    inquiry_id: int
    external_id: str
    member_id: UUID
    status: str


@router.post("/members/search", response_model=SearchResults)
def search_members(body: SearchRequest, principal: Reader, state: State, request: Request) -> SearchResults:
    """Find members; the query travels in the body so it never lands in a URL or an access log."""
    with state.transaction() as conn:
        found = state.hub.members.find(body.query, conn=conn)
        record_member_access(
            conn, principal.actor, "search", None, request_id=request_id(request), detail={"results": len(found)}
        )
    return SearchResults(results=[masked(member) for member in found])


@router.get("/members/{member_id}")
def open_member(member_id: UUID, principal: Reader, state: State, request: Request, purpose: Purpose = "") -> Any:
    """A member's personal data and summary (of their whole merged cluster); the opening is audited."""
    with state.transaction() as conn:
        state.opening_limit.check(principal, conn=conn)
        summary = state.summaries.member_summary(member_id, conn=conn)
        shown = summary.member.id
        detail: dict[str, object] | None = None if shown == member_id else {"requested": str(member_id)}
        record_member_access(
            conn, principal.actor, "open", shown, purpose=purpose or None, request_id=request_id(request),
            detail=detail,
        )  # fmt: skip
    return json_response(summary)


@router.get("/members/{member_id}/timeline")
def member_timeline(
    member_id: UUID,
    principal: Reader,
    state: State,
    request: Request,
    kind: Annotated[list[Literal[KINDS]] | None, Query()] = None,  # type: ignore[valid-type]
    channel: Annotated[list[Literal[CHANNELS]] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Any:  # a Response, written by json_response; `Any` keeps the OpenAPI document as it was
    """One page of the member's unified history, newest first; ``next_cursor`` fetches the next."""
    with state.transaction() as conn:
        page = state.timeline.page(member_id, kinds=kind, channels=channel, limit=limit, cursor=cursor, conn=conn)
        record_member_access(conn, principal.actor, "timeline", member_id, request_id=request_id(request))
    return json_response(page)


@router.post("/members/{member_id}/inquiries", status_code=201, response_model=InquiryLogged)
def log_inquiry(member_id: UUID, body: InquiryRequest, principal: InquiryWriter, state: State) -> InquiryLogged:
    """Log an inquiry for a member; it is sent on to the helpdesk destinations."""
    state.hub.members.require_active(member_id)
    logged = state.inquiries.log(member_id, author=principal.actor.name, **body.model_dump())
    return InquiryLogged(**dataclasses.asdict(logged) | {"inquiry_id": logged.id})


@router.patch("/inquiries/{inquiry_id}", response_model=InquiryLogged)
def update_inquiry(inquiry_id: RowId, body: InquiryUpdate, principal: InquiryWriter, state: State) -> InquiryLogged:
    """Change the status of an inquiry logged in the console, adding a note to its thread."""
    logged = state.inquiries.update(inquiry_id, status=body.status, note=body.note, author=principal.actor.name)
    return InquiryLogged(**dataclasses.asdict(logged) | {"inquiry_id": logged.id})


def masked(member: Member) -> MaskedMember:
    """A member as a search result shows it."""
    profile = member.profile
    return MaskedMember(
        member_id=member.id,
        member_number=member.member_number,
        status=member.status,
        name=profile.name if profile else None,
        kana=profile.kana if profile else None,
        email=mask_email(profile.email) if profile and profile.email else None,
        phone=mask_phone(profile.phone) if profile and profile.phone else None,
        rank=member.rank_code,
    )


def json_response(value: object) -> Response:
    """``value`` as JSON in one pass: what ``jsonable_encoder(dataclasses.asdict(value))`` would give.

    Dataclasses become objects, tuples arrays, times ISO 8601, UUIDs strings, decimals numbers; without the
    copy ``asdict`` makes nor FastAPI's second ``jsonable_encoder`` walk over an ``Any`` answer.
    """
    return Response(_ENCODER.encode(value).encode(), media_type="application/json")


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):  # PostgreSQL's SUM of integers; as jsonable_encoder writes them
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    raise TypeError(f"{type(value).__name__} is not meant for a JSON answer")


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in dataclasses.fields(cls))
    return names


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_plain)
