"""The operator's pages: search, the member page (summary and unified timeline), inquiry logging."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from core.access import Principal, Role, Scope
from core.members.audit import record_member_access
from core.members.timeline import CHANNELS, KINDS
from hub.web.api.members import masked
from hub.web.auth import require
from hub.web.pages import render
from hub.web.state import WebState, request_id, web_state

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require(Role.OPERATOR, Scope.MEMBERS_READ))]
InquiryWriter = Annotated[Principal, Depends(require(Role.OPERATOR, Scope.INQUIRIES_WRITE))]
State = Annotated[WebState, Depends(web_state)]
PAGE_SIZE = 25
INQUIRY_CATEGORIES = ("order", "delivery", "return", "points", "membership", "product", "complaint", "other")


@router.get("/")
def search_page(request: Request, principal: Reader) -> Response:
    """The search box."""
    return render(request, "search.html", results=None, query="")


@router.post("/search")
def search(request: Request, principal: Reader, state: State, query: Annotated[str, Form(max_length=200)]) -> Response:
    """Members matching a phone, email, member number or name, with masked contact details."""
    with state.transaction() as conn:
        found = state.hub.members.find(query, conn=conn) if query.strip() else []
        record_member_access(
            conn, principal.actor, "search", None, request_id=request_id(request), detail={"results": len(found)}
        )
    return render(request, "search.html", results=[masked(member) for member in found], query=query)


@router.get("/members/{member_id}")
def member_page(
    request: Request,
    member_id: UUID,
    principal: Reader,
    state: State,
    kind: Annotated[list[Literal[KINDS]] | None, Query()] = None,  # type: ignore[valid-type]
    channel: Annotated[list[Literal[CHANNELS]] | None, Query()] = None,  # type: ignore[valid-type]
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Everything about one member on one screen; every opening is audited."""
    with state.transaction() as conn:
        state.opening_limit.check(principal, conn=conn)
        summary = state.summaries.member_summary(member_id, conn=conn)
        page = state.timeline.page(member_id, kinds=kind, channels=channel, limit=PAGE_SIZE, cursor=cursor, conn=conn)
        shown = summary.member.id
        record_member_access(
            conn, principal.actor, "open", shown, purpose="console", request_id=request_id(request),
            detail=None if shown == member_id else {"requested": str(member_id)},
        )  # fmt: skip
    return render(
        request, "member.html", summary=summary, page=page, kinds=KINDS, channels=CHANNELS,
        chosen_kinds=kind or [], chosen_channels=channel or [], categories=INQUIRY_CATEGORIES,
        can_write=principal.allows(Role.OPERATOR, Scope.INQUIRIES_WRITE),
    )  # fmt: skip


@router.post("/members/{member_id}/inquiries")
def log_inquiry(
    member_id: UUID,
    principal: InquiryWriter,
    state: State,
    channel: Annotated[Literal["phone", "email", "chat", "web"], Form()],
    category: Annotated[Literal[INQUIRY_CATEGORIES], Form()],  # type: ignore[valid-type]
    body: Annotated[str, Form(min_length=1, max_length=65_536)],
    status: Annotated[Literal["open", "pending", "solved", "closed"], Form()] = "open",
    subject: Annotated[str, Form(max_length=1_000)] = "",
) -> Response:
    """Log what the member asked; it joins the timeline and goes to the helpdesk."""
    state.hub.members.require_active(member_id)
    state.inquiries.log(
        member_id, channel=channel, status=status, body=body, author=principal.actor.name, category=category,
        subject=subject or None,
    )  # fmt: skip
    return RedirectResponse(f"/members/{member_id}#timeline", status_code=303)
