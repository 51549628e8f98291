"""Purchases, inquiries, survey responses and consent events: upserts keyed by (source, external_id).

A version is written only if it is new or its ``source_updated_at`` is newer than the stored one, so applying
a batch again, or an older version after a newer one, changes nothing. Text a member wrote (inquiry subjects
and messages, survey free text) is sealed with that member's data key, bound to its table and column; an
erased member's records are kept without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Connection, Row

from core.crypto.envelope import FieldCipher
from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.errors import DecryptionError
from core.records import CanonicalRecord, ConsentChange, Inquiry, InquiryMessage, Purchase, SurveyResponse
from core.store import coupons as coupons_repo
from core.store import records as repo
from core.store.records import Key

_R = TypeVar("_R", bound=CanonicalRecord)
_LINE_FIELDS = ("line_no", "sku", "product_name", "quantity", "unit_price", "amount")


class ActivityWriter:
    """Writes one batch's non-profile records in the caller's transaction; each method returns rows written."""

    def __init__(self, conn: Connection, sealer: MemberSealer, members: Mapping[Key, UUID], now: datetime) -> None:
        self.conn = conn
        self.members = members
        self.now = now
        self._sealer = sealer
        self._ciphers: dict[UUID, FieldCipher | None] = {}
        # what this batch stored or changed, for the loyalty engine
        self.purchase_ids: list[int] = []
        self.survey_response_ids: list[int] = []

    def load_ciphers(self, member_ids: Sequence[UUID]) -> None:
        """Unwrap the data keys of the members whose text the batch seals (``None`` for erased members)."""
        for row in repo.member_keys(self.conn, (i for i in member_ids if i not in self._ciphers)):
            active = row.status != "erased" and row.wrapped_dek is not None
            key = WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version)
            self._ciphers[row.id] = self._sealer.cipher_for(key) if active else None

    # ── purchases ──────────────────────────────────────────────────────────────────────────────────

    def purchases(self, records: Sequence[Purchase]) -> int:
        """Upsert purchase headers; a new version replaces the lines and upserts refunds and cancellations."""
        new, newer = _new_and_newer(records, repo.stored_purchases(self.conn, map(_key, records)))
        ids = repo.insert_purchases(self.conn, [{**self._purchase_row(r), "created_at": self.now} for r in new])
        repo.update_purchases(self.conn, [{"id": row.id, **self._purchase_row(r)} for r, row in newer])
        accepted = [*zip(new, ids, strict=True), *((r, row.id) for r, row in newer)]
        self.purchase_ids.extend(purchase_id for _, purchase_id in accepted)
        lines = self._lines(list(zip(new, ids, strict=True)), [(r, row.id) for r, row in newer])
        self._coupon_codes(accepted)
        return len(accepted) + lines + self._adjustments(accepted)

    def _coupon_codes(self, accepted: Sequence[tuple[Purchase, int]]) -> None:
        """Record the coupon codes purchases carried; the loyalty engine decides whether each is redeemed."""
        rows = [
            {"purchase_id": purchase_id, "code": code}
            for record, purchase_id in accepted
            for code in dict.fromkeys(record.coupon_codes)
        ]
        coupons_repo.present_codes(self.conn, rows)

    def _purchase_row(self, record: Purchase) -> dict[str, Any]:
        customer = record.customer_external_id
        return {
            "member_id": self.members[(record.source, customer)] if customer else None,
            "source": record.source,
            "external_id": record.external_id,
            "channel": record.channel,
            "store_code": record.store_code,
            "status": record.status,
            "currency": record.currency,
            "total_amount": record.total_amount,
            "tax_amount": record.tax_amount,
            "discount_amount": record.discount_amount,
            "purchased_at": record.purchased_at,
            "source_updated_at": record.source_updated_at,
        }

    def _lines(self, inserted: Sequence[tuple[Purchase, int]], updated: Sequence[tuple[Purchase, int]]) -> int:
        """Lines of new purchases, and of updated ones whose lines differ from the stored ones."""
        rows = [line for record, purchase_id in inserted for line in _line_rows(record, purchase_id)]
        stored = repo.purchase_lines(self.conn, [purchase_id for _, purchase_id in updated])
        replaced = []
        for record, purchase_id in updated:
            incoming = _line_rows(record, purchase_id)
            current = [{name: getattr(row, name) for name in _LINE_FIELDS} for row in stored.get(purchase_id, [])]
            if current != [{name: line[name] for name in _LINE_FIELDS} for line in incoming]:
                replaced.append(purchase_id)
                rows.extend(incoming)
        repo.replace_purchase_lines(self.conn, replaced, rows)
        return len(rows)

    def _adjustments(self, accepted: Sequence[tuple[Purchase, int]]) -> int:
        incoming = {
            (record.source, adjustment.external_id): {
                "purchase_id": purchase_id,
                "source": record.source,
                "external_id": adjustment.external_id,
                "kind": adjustment.kind,
                "amount": adjustment.amount,
                "occurred_at": adjustment.occurred_at,
            }
            for record, purchase_id in accepted
            for adjustment in record.adjustments
        }
        stored = repo.stored_adjustments(self.conn, incoming)
        inserts = [row for key, row in incoming.items() if key not in stored]
        updates = [{"id": stored[key].id, **row} for key, row in incoming.items() if _differs(stored.get(key), row)]
        repo.insert_adjustments(self.conn, inserts)
        repo.update_adjustments(self.conn, updates)
        return len(inserts) + len(updates)

    # ── inquiries ──────────────────────────────────────────────────────────────────────────────────

    def inquiries(self, records: Sequence[Inquiry]) -> int:
        """Upsert inquiry headers (subject sealed) and their messages (bodies sealed)."""
        new, newer = _new_and_newer(records, repo.stored_inquiries(self.conn, map(_key, records)))
        ids = repo.insert_inquiries(self.conn, [self._inquiry_row(r) for r in new])
        repo.update_inquiries(self.conn, [{"id": row.id, **self._inquiry_row(r)} for r, row in newer])
        accepted = [*zip(new, ids, strict=True), *((r, row.id) for r, row in newer)]
        return len(accepted) + self._messages(accepted)

    def _inquiry_row(self, record: Inquiry) -> dict[str, Any]:
        member_id = self._member_of(record)
        return {
            "member_id": member_id,
            "source": record.source,
            "external_id": record.external_id,
            "channel": record.channel,
            "category": record.category,
            "status": record.status,
            "subject_ct": self._seal(member_id, record.subject, "inquiries", "subject_ct"),
            "opened_at": record.opened_at,
            "closed_at": record.closed_at,
            "source_updated_at": record.source_updated_at,
            "console_inquiry": record.console_inquiry,
        }

    def _messages(self, accepted: Sequence[tuple[Inquiry, int]]) -> int:
        incoming: dict[Key, tuple[InquiryMessage, int, UUID]] = {
            (record.source, message.external_id): (message, inquiry_id, self._member_of(record))
            for record, inquiry_id in accepted
            for message in record.messages
        }
        stored = repo.stored_messages(self.conn, incoming)
        inserts, updates = [], []
        for (source, external_id), (message, inquiry_id, member_id) in incoming.items():
            row = stored.get((source, external_id))
            if self._ciphers.get(member_id) is None or self._same_message(row, message, inquiry_id, member_id):
                continue  # an erased member's messages are not kept
            values = {
                "inquiry_id": inquiry_id,
                "author_kind": message.author_kind,
                "body_ct": self._seal(member_id, message.body, "inquiry_messages", "body_ct"),
                "sent_at": message.sent_at,
            }
            if row is None:
                inserts.append({"source": source, "external_id": external_id, **values})
            else:
                updates.append({"id": row.id, **values})
        repo.insert_messages(self.conn, inserts)
        repo.update_messages(self.conn, updates)
        return len(inserts) + len(updates)

    def _same_message(self, row: Row[Any] | None, message: InquiryMessage, inquiry_id: int, member_id: UUID) -> bool:
        if row is None or (row.inquiry_id, row.owner_id, row.author_kind) != (
            inquiry_id,
            member_id,
            message.author_kind,
        ):
            return False
        cipher = self._ciphers[member_id]
        assert cipher is not None
        try:
            body = cipher.decrypt(row.body_ct, table="inquiry_messages", column="body_ct", owner_id=str(member_id))
        except DecryptionError:
            return False  # unreadable: write the incoming version over it
        return row.sent_at == message.sent_at and body == message.body

    # ── surveys and consent ────────────────────────────────────────────────────────────────────────

    def survey_responses(self, records: Sequence[SurveyResponse]) -> int:
        """Upsert survey responses: choice answers in the clear, free text sealed."""
        new, newer = _new_and_newer(records, repo.stored_survey_responses(self.conn, map(_key, records)))
        ids = repo.insert_survey_responses(self.conn, [self._survey_row(r) for r in new])
        repo.update_survey_responses(self.conn, [{"id": row.id, **self._survey_row(r)} for r, row in newer])
        self.survey_response_ids += [*ids, *(row.id for _, row in newer)]
        return len(new) + len(newer)

    def _survey_row(self, record: SurveyResponse) -> dict[str, Any]:
        member_id = self._member_of(record)
        return {
            "member_id": member_id,
            "source": record.source,
            "external_id": record.external_id,
            "survey_code": record.survey_code,
            "score": record.score,
            "answers": dict(record.answers),
            "free_text_ct": self._seal(member_id, record.free_text, "survey_responses", "free_text_ct"),
            "answered_at": record.answered_at,
            "source_updated_at": record.source_updated_at,
        }

    def consent_changes(self, records: Sequence[ConsentChange]) -> int:
        """Upsert consent events; the latest per member and channel is the member's consent."""
        new, newer = _new_and_newer(records, repo.stored_consent_events(self.conn, map(_key, records)))
        repo.insert_consent_events(self.conn, [self._consent_row(r) for r in new])
        repo.update_consent_events(self.conn, [{"id": row.id, **self._consent_row(r)} for r, row in newer])
        return len(new) + len(newer)

    def _consent_row(self, record: ConsentChange) -> dict[str, Any]:
        return {
            "member_id": self._member_of(record),
            "source": record.source,
            "external_id": record.external_id,
            "channel": record.channel,
            "subscribed": record.subscribed,
            "changed_at": record.changed_at,
            "source_updated_at": record.source_updated_at,
        }

    # ── helpers ────────────────────────────────────────────────────────────────────────────────────

    def _member_of(self, record: Inquiry | SurveyResponse | ConsentChange) -> UUID:
        return self.members[(record.source, record.customer_external_id)]

    def _seal(self, member_id: UUID, text: str | None, table: str, column: str) -> bytes | None:
        cipher = self._ciphers.get(member_id)
        if text is None or cipher is None:
            return None
        return cipher.encrypt(text, table=table, column=column, owner_id=str(member_id))


def _new_and_newer(records: Sequence[_R], stored: Mapping[Key, Row[Any]]) -> tuple[list[_R], list[tuple[_R, Row[Any]]]]:
    """Records not stored yet, and records newer than their stored version; older or equal ones drop out."""
    new, newer = [], []
    for record in records:
        row = stored.get(_key(record))
        if row is None:
            new.append(record)
        elif record.source_updated_at > row.source_updated_at:
            newer.append((record, row))
    return new, newer


def _line_rows(record: Purchase, purchase_id: int) -> list[dict[str, Any]]:
    """Rows of a purchase's lines; a replaced line starts with nothing refunded, as the source sent it."""
    return [
        {"purchase_id": purchase_id, **{name: getattr(line, name) for name in _LINE_FIELDS}, "refunded_quantity": 0}
        for line in sorted(record.lines, key=lambda line: line.line_no)
    ]


def _differs(stored: Row[Any] | None, row: Mapping[str, Any]) -> bool:
    return stored is not None and any(getattr(stored, name) != value for name, value in row.items())


def _key(record: CanonicalRecord) -> Key:
    return record.source, record.external_id
