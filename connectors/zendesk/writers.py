"""Tickets the hub writes: console inquiries (``inquiry.logged``/``.updated``) and survey follow-ups.

Every ticket the hub creates carries a stable ``external_id`` (the inquiry's, or ``survey:…`` for a follow-up),
and a writer looks it up before it writes, so a delivery retried days later finds its ticket instead of making
a second one; the ``Idempotency-Key`` header (the outbox key) covers a create whose answer was lost. The
requester is the member's Zendesk user (``customer_id``); a member without one gets a user found or made by
``external_id`` = member number, named ``会員 <number>``. Comments the hub adds are internal notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.config import ZendeskConfig
from connectors.zendesk.mapping import placeholder_name
from connectors.zendesk.payloads import HubStatus, InquiryLogged, InquiryUpdated, SurveyCallCenter, parse_payload
from core.errors import PermanentError, RetryableError
from core.sync.contract import CALL_CENTER_MESSAGE, INQUIRY_LOGGED_MESSAGE, INQUIRY_UPDATED_MESSAGE, OutboundMessage

ZENDESK_STATUS: dict[HubStatus, str] = {"open": "open", "pending": "pending", "solved": "solved", "closed": "solved"}
"""The API cannot close a ticket: Zendesk closes solved tickets itself, days later, so *closed* is sent as solved."""
DEFAULT_SUBJECT = "会員からのお問い合わせ"
_FINISHED = ("closed", "deleted")


class TicketWriter:
    """Delivers the ticket-making messages to one Zendesk account."""

    kinds: tuple[str, ...] = (INQUIRY_LOGGED_MESSAGE, INQUIRY_UPDATED_MESSAGE, CALL_CENTER_MESSAGE)

    def __init__(self, client: ZendeskClient, config: ZendeskConfig) -> None:
        self._client = client
        self._config = config
        self._writers: dict[str, Callable[[OutboundMessage], None]] = {
            INQUIRY_LOGGED_MESSAGE: self._logged,
            INQUIRY_UPDATED_MESSAGE: self._updated,
            CALL_CENTER_MESSAGE: self._survey,
        }

    def deliver(self, message: OutboundMessage) -> None:
        """Push one message of a kind in ``kinds``."""
        self._writers[message.kind](message)

    def _logged(self, message: OutboundMessage) -> None:
        """A new ticket, or (it exists and is open) the message as a note on it unless it is there already."""
        inquiry = parse_payload(InquiryLogged, message)
        existing = self._open_ticket(inquiry.external_id)
        if existing is not None:
            self._note_once(existing, _signed(inquiry.body, inquiry.author), status=None)
            return
        ticket = {
            "subject": inquiry.subject or DEFAULT_SUBJECT,
            "comment": {"body": _signed(inquiry.body, inquiry.author), "public": False},
            "requester_id": self._requester(message.kind, inquiry.customer_id, inquiry.member_number),
            "external_id": inquiry.external_id,
            "status": ZENDESK_STATUS[inquiry.status],
            **self._classified(inquiry.category, f"via_{inquiry.channel}"),
        }
        self._client.create_ticket(ticket, idempotency_key=message.idempotency_key)

    def _updated(self, message: OutboundMessage) -> None:
        """The new status and a note on the inquiry's ticket; nothing when both are already there."""
        inquiry = parse_payload(InquiryUpdated, message)
        ticket = self._open_ticket(inquiry.external_id)
        if ticket is None:
            if self._client.tickets_by_external_id(inquiry.external_id):
                raise PermanentError(f"{message.kind}: the inquiry's ticket is closed; Zendesk refuses changes")
            # The ticket is made by the inquiry.logged message, which may not have been delivered yet.
            raise RetryableError(f"{message.kind}: no ticket for the inquiry yet", retry_after=60.0)
        written = (inquiry.note or "").strip()
        changed = f"ステータスを「{inquiry.status}」に変更しました（{inquiry.author}）"
        note = _signed(written, inquiry.author) if written else changed
        self._note_once(ticket, note, status=ZENDESK_STATUS[inquiry.status])

    def _survey(self, message: OutboundMessage) -> None:
        """A ticket for the call center, once per survey answer and rule."""
        survey = parse_payload(SurveyCallCenter, message)
        external_id = f"survey:{survey.response.source}:{survey.response.external_id}:{survey.rule}"
        if self._client.tickets_by_external_id(external_id):
            return
        ticket = {
            "subject": f"アンケート回答のフォロー: {survey.survey_code}",
            "comment": {"body": survey_note(survey), "public": False},
            "requester_id": self._requester(message.kind, survey.customer_id, survey.member_number),
            "external_id": external_id,
            **self._classified("survey", "survey_follow_up"),
        }
        self._client.create_ticket(ticket, idempotency_key=message.idempotency_key)

    def _open_ticket(self, external_id: str) -> Mapping[str, Any] | None:
        tickets = self._client.tickets_by_external_id(external_id)
        return next((t for t in reversed(tickets) if t.get("status") not in _FINISHED), None)

    def _note_once(self, ticket: Mapping[str, Any], body: str, *, status: str | None) -> None:
        """Add ``body`` as a note (and set ``status``) unless the thread already ends with it in that status."""
        ticket_id = int(ticket["id"])
        texts = [_text(comment) for comment in self._client.thread(ticket_id).comments]
        # The first message of an inquiry may be anywhere in the thread (agents answer); an update is the last.
        done = body.strip() in texts if status is None else texts[-1:] == [body.strip()]
        if done and (status is None or ticket.get("status") == status):
            return
        update: dict[str, Any] = {"comment": {"body": body, "public": False}}
        if status is not None:
            update["status"] = status
        self._client.update_ticket(ticket_id, update)

    def _requester(self, kind: str, customer_id: str | None, member_number: str | None) -> int:
        if customer_id:
            if not customer_id.strip().isdecimal():
                raise PermanentError(f"{kind}: customer_id is not a Zendesk user id")
            return int(customer_id)
        if not member_number:
            raise PermanentError(f"{kind}: the member has no Zendesk user and no member number")
        user = self._client.user_by_external_id(member_number)
        if user is None:
            user = self._client.create_or_update_user(
                {"external_id": member_number, "name": placeholder_name(member_number)}
            )
        if not isinstance(user.get("id"), int):
            raise PermanentError(f"{kind}: Zendesk answered a user without an id")
        return int(user["id"])

    def _classified(self, category: str | None, *tags: str) -> dict[str, Any]:
        """Tags and, where the account keeps categories in a ticket field, that field."""
        every = [*self._config.ticket_tags, *tags]
        fields: dict[str, Any] = {}
        if category and self._config.category_field_id is not None:
            fields["custom_fields"] = [{"id": self._config.category_field_id, "value": category}]
        elif category:
            every.append(f"{self._config.category_tag_prefix}{category}")
        return {"tags": every, **fields}


def _signed(body: str, author: str) -> str:
    """The operator's text with who logged it: the comment's author in Zendesk is the API user."""
    return f"{body.strip()}\n\n（MemberHub コンソールで {author} が記録）"


def _text(comment: Any) -> str:
    return str(comment.get("plain_body") or comment.get("body") or "").strip() if isinstance(comment, dict) else ""


def survey_note(survey: SurveyCallCenter) -> str:
    """The follow-up ticket's first comment, in Japanese, for the agent who calls the member back."""
    lines = [
        "アンケートの回答にフォローが必要です。",
        f"ルール: {survey.rule}",
        f"アンケート: {survey.survey_code}",
        f"設問: {survey.question or '—'}",
        f"回答: {survey.answer or '—'}",
        f"回答日時: {survey.answered_at.isoformat()}",
        f"クーポン: {survey.coupon_code or 'なし'}",
        f"回答ID: {survey.response.source}/{survey.response.external_id}",
    ]
    return "\n".join(lines)
