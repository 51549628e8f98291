"""Inquiries logged by operators in the console: stored like a helpdesk's, then sent to the helpdesk.

The console is a source like any other (``console``): an inquiry is a canonical ``Inquiry`` record written by
the same idempotent upserts as a synced ticket, with its text sealed under the member's key, and an outbox
message per helpdesk destination in the same transaction, so the helpdesk hears of it exactly once. Only
inquiries the console logged can be changed here; a helpdesk's own tickets change in the helpdesk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import Connection, Engine, Row

from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.errors import InvalidInputError, MemberNotFoundError
from core.loyalty.coupon_messages import customer_ids
from core.loyalty.status_messages import member_numbers
from core.records import Inquiry, InquiryMessage
from core.store import records as repo
from core.sync import outbox
from core.sync.contract import INQUIRY_LOGGED_MESSAGE, INQUIRY_UPDATED_MESSAGE
from core.sync.ingest_activity import ActivityWriter
from core.sync.payloads import PayloadSealer

CONSOLE_SOURCE = "console"
LOGGED_MESSAGE = INQUIRY_LOGGED_MESSAGE
UPDATED_MESSAGE = INQUIRY_UPDATED_MESSAGE
Channel = Literal["phone", "email", "chat", "web"]
Status = Literal["open", "pending", "solved", "closed"]


@dataclass(frozen=True)
class LoggedInquiry:
    """An inquiry as the console wrote it."""

    id: int
    external_id: str
    member_id: UUID
    status: str


class InquiryLog:
    """Logs and updates console inquiries and queues them for the helpdesk destinations."""

    def __init__(
        self,
        engine: Engine,
        sealer: MemberSealer,
        outbox_sealer: PayloadSealer,
        destinations: Sequence[str] = (),
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.sealer = sealer
        self.outbox_sealer = outbox_sealer
        self.destinations = tuple(destinations)
        self.clock = clock

    def log(
        self,
        member_id: UUID,
        *,
        channel: Channel,
        status: Status,
        body: str,
        author: str,
        category: str | None = None,
        subject: str | None = None,
    ) -> LoggedInquiry:
        """Record what the member asked (and what was answered) and queue it for the helpdesk."""
        now = self.clock()
        external_id = f"console-{uuid4()}"
        record = self._record(
            external_id, member_id, channel=channel, category=category, status=status, subject=subject,
            opened_at=now, messages=(_message(external_id, 1, body, now),),
        )  # fmt: skip
        with self.engine.begin() as conn:
            inquiry_id = self._write(conn, record, member_id)
            payload = {**_payload(record, inquiry_id), "author": author, "body": body}
            self._enqueue(conn, LOGGED_MESSAGE, f"inquiry:{external_id}", payload, member_id)
        return LoggedInquiry(inquiry_id, external_id, member_id, status)

    def update(self, inquiry_id: int, *, status: Status, note: str | None, author: str) -> LoggedInquiry:
        """Change a console inquiry's status, adding a note to its thread; the helpdesk is told."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = repo.inquiry_header(conn, inquiry_id)
            if row is None:
                raise InvalidInputError(f"no inquiry {inquiry_id}")
            if row.source != CONSOLE_SOURCE:
                raise InvalidInputError(f"inquiry {inquiry_id} belongs to {row.source}; change it there")
            if row.member_status == "erased":
                raise MemberNotFoundError("the member of this inquiry was erased")
            count = repo.inquiry_message_count(conn, inquiry_id)
            messages = (_message(row.external_id, count + 1, note, now),) if note else ()
            record = self._record(
                row.external_id, row.member_id, channel=row.channel, category=row.category, status=status,
                subject=self._subject(row), opened_at=row.opened_at, messages=messages,
                closed_at=now if status in ("solved", "closed") else None, updated_at=max(now, row.source_updated_at),
            )  # fmt: skip
            self._write(conn, record, row.member_id)
            payload = {**_payload(record, inquiry_id), "author": author, "note": note}
            key = f"inquiry:{row.external_id}:update:{count + 1}:{status}"
            self._enqueue(conn, UPDATED_MESSAGE, key, payload, row.member_id)
        return LoggedInquiry(inquiry_id, row.external_id, row.member_id, status)

    @staticmethod
    def _record(
        external_id: str, member_id: UUID, *, opened_at: datetime, updated_at: datetime | None = None, **fields: Any
    ) -> Inquiry:
        return Inquiry(
            source=CONSOLE_SOURCE,
            external_id=external_id,
            source_updated_at=updated_at or opened_at,
            customer_external_id=str(member_id),
            opened_at=opened_at,
            **fields,
        )

    def _write(self, conn: Connection, record: Inquiry, member_id: UUID) -> int:
        writer = ActivityWriter(conn, self.sealer, {(CONSOLE_SOURCE, str(member_id)): member_id}, self.clock())
        writer.load_ciphers([member_id])
        writer.inquiries([record])
        stored = repo.stored_inquiries(conn, [(CONSOLE_SOURCE, record.external_id)])
        return int(stored[(CONSOLE_SOURCE, record.external_id)].id)

    def _subject(self, row: Row[Any]) -> str | None:
        if row.subject_ct is None:
            return None
        cipher = self.sealer.cipher_for(WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version))
        return cipher.decrypt(row.subject_ct, table="inquiries", column="subject_ct", owner_id=str(row.member_id))

    def _enqueue(self, conn: Connection, kind: str, key: str, payload: dict[str, Any], member_id: UUID) -> None:
        """One message per helpdesk, naming the member by number and by their user id there (``None``: none yet)."""
        if not self.destinations:
            return
        number = member_numbers(conn, self.sealer, [member_id]).get(member_id.hex)
        for destination in self.destinations:
            customer_id = customer_ids(conn, [member_id], destination).get(member_id)
            outbox.enqueue(
                conn, self.outbox_sealer, destination=destination, kind=kind, idempotency_key=f"{key}:{destination}",
                payload={**payload, "customer_id": customer_id, "member_number": number}, now=self.clock(),
                member_id=member_id,
            )  # fmt: skip


def _message(external_id: str, number: int, body: str, now: datetime) -> InquiryMessage:
    return InquiryMessage(external_id=f"{external_id}-{number}", author_kind="agent", body=body, sent_at=now)


def _payload(record: Inquiry, inquiry_id: int) -> dict[str, Any]:
    return {
        "inquiry_id": inquiry_id,
        "external_id": record.external_id,
        "member_id": record.customer_external_id,
        "channel": record.channel,
        "category": record.category,
        "status": record.status,
        "subject": record.subject,
        "opened_at": record.opened_at.isoformat(),
    }
