"""Zendesk JSON → canonical records: end-users become ``Profile``, tickets with their threads ``Inquiry``.

Each object is read by a wire model (Zendesk's field names and types) before the canonical record is built,
so a reason names a field and a rule, never a value. A ticket reaches the mapper as a *bundle*: the ticket as
the export gives it, plus ``comments`` (its thread, oldest first), ``comment_authors`` (author id → role) and
``metric_set`` (for ``solved_at``), which the connector adds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from core.members.numbers import looks_like_member_number
from core.records import Inquiry, InquiryMessage, Profile
from core.sync.mapping import RecordMapper

InquiryChannel = Literal["phone", "email", "chat", "web"]
InquiryStatus = Literal["open", "pending", "solved", "closed"]
AuthorKind = Literal["member", "agent", "system"]

CHANNELS: dict[str, InquiryChannel] = {
    "voice": "phone", "phone": "phone",
    "email": "email",
    "chat": "chat", "native_messaging": "chat", "messaging": "chat", "sms": "chat", "line": "chat",
    "whatsapp": "chat", "facebook": "chat", "instagram_dm": "chat",
    "web": "web", "web_form": "web", "help_center": "web", "api": "web", "mobile": "web", "mobile_sdk": "web",
}  # fmt: skip
"""``via.channel`` → the inquiry's channel; any other channel (a rule, a merge…) counts as ``web``."""
STATUSES: dict[str, InquiryStatus] = {
    "new": "open", "open": "open", "pending": "pending", "hold": "pending", "solved": "solved", "closed": "closed",
}  # fmt: skip
"""Zendesk's six statuses on the hub's four: *new* is an open ticket nobody took yet, *on-hold* waits like *pending*."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireUser(_Wire):
    """A user of ``/api/v2/incremental/users/cursor.json`` or ``/api/v2/users/{id}.json``."""

    id: int
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    role: str = "end-user"
    verified: bool | None = None
    external_id: str | None = None
    updated_at: AwareDatetime


class WireVia(_Wire):
    """How a ticket came in."""

    channel: str = "web"


class WireCustomField(_Wire):
    """One ticket field value; a drop-down's value is the option's tag."""

    id: int
    value: Any = None


class WireComment(_Wire):
    """One comment of ``/api/v2/tickets/{id}/comments.json``."""

    id: int
    author_id: int
    body: str | None = None
    plain_body: str | None = None
    public: bool = True
    created_at: AwareDatetime


class WireMetricSet(_Wire):
    """The side-loaded metric set; only when the ticket was solved is used."""

    solved_at: AwareDatetime | None = None


class WireTicket(_Wire):
    """A ticket bundle (see the module's docstring)."""

    id: int
    external_id: str | None = None
    subject: str | None = None
    status: Literal["new", "open", "pending", "hold", "solved", "closed"]
    requester_id: int
    via: WireVia = WireVia()
    tags: list[str] = []
    custom_fields: list[WireCustomField] = []
    created_at: AwareDatetime
    updated_at: AwareDatetime
    comments: list[WireComment] = []
    comment_authors: dict[int, str] = {}
    metric_set: WireMetricSet | None = None


def user_to_profile(source: str, raw: Any) -> Profile:
    """An end-user as a ``Profile``: the name as the agent typed it, the email, the phone."""
    user = WireUser.model_validate(raw)
    email = user.email or None
    return Profile(
        source=source,
        external_id=str(user.id),
        source_updated_at=user.updated_at,
        name=None if _placeholder(user) else user.name or None,
        email=email,
        email_verified=user.verified if email else None,
        phone=user.phone or None,
        member_number=_member_number(user.external_id),
    )


def _member_number(external_id: str | None) -> str | None:
    """The user's ``external_id`` if it is a member number (the writers set it so; an integration may too)."""
    return external_id if external_id and looks_like_member_number(external_id) else None


def ticket_mapper(category_field_id: int | None, category_tag_prefix: str) -> RecordMapper:
    """A mapper of ticket bundles that finds the category in a ticket field, or else in a prefixed tag."""

    def ticket_to_inquiry(source: str, raw: Any) -> Inquiry:
        ticket = WireTicket.model_validate(raw)
        status = STATUSES[ticket.status]
        return Inquiry(
            source=source,
            external_id=str(ticket.id),
            source_updated_at=ticket.updated_at,
            customer_external_id=str(ticket.requester_id),
            channel=CHANNELS.get(ticket.via.channel, "web"),
            category=_category(ticket, category_field_id, category_tag_prefix),
            status=status,
            subject=ticket.subject or None,
            opened_at=ticket.created_at,
            closed_at=_closed_at(ticket) if status in ("solved", "closed") else None,
            messages=tuple(_message(ticket, comment) for comment in ticket.comments if _text(comment)),
            console_inquiry=ticket.external_id or None,  # the writers set it to the console inquiry's id
        )

    return ticket_to_inquiry


def placeholder_name(member_number: str) -> str:
    """The name of a user the writers create for a member Zendesk did not know: ``会員 M-000123``."""
    return f"会員 {member_number}"


def _placeholder(user: WireUser) -> bool:
    """A user the hub made: its name says nothing about the person, so it is not passed on as one."""
    return bool(user.external_id) and user.name == placeholder_name(str(user.external_id))


def author_kind(author_id: int, requester_id: int, roles: Mapping[int, str]) -> AuthorKind:
    """The requester and other end-users write as the member, agents and admins as agents, the rest is system."""
    role = roles.get(author_id)
    if author_id == requester_id or role == "end-user":
        return "member"
    return "agent" if role in ("agent", "admin") else "system"


def _message(ticket: WireTicket, comment: WireComment) -> InquiryMessage:
    return InquiryMessage(
        external_id=str(comment.id),
        author_kind=author_kind(comment.author_id, ticket.requester_id, ticket.comment_authors),
        body=_text(comment),
        sent_at=comment.created_at,
    )


def _text(comment: WireComment) -> str:
    return (comment.plain_body or comment.body or "").strip()


def _category(ticket: WireTicket, field_id: int | None, prefix: str) -> str | None:
    if field_id is not None:
        value = next((f.value for f in ticket.custom_fields if f.id == field_id), None)
        return value if isinstance(value, str) and value.strip() else None
    tagged = [tag[len(prefix) :] for tag in ticket.tags if prefix and tag.startswith(prefix) and tag != prefix]
    return tagged[0] if tagged else None


def _closed_at(ticket: WireTicket) -> datetime:
    """When it was solved (the metric set); a ticket without metrics was last solved at its last change."""
    solved = ticket.metric_set.solved_at if ticket.metric_set else None
    return solved or ticket.updated_at
