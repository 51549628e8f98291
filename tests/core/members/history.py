"""Writes a member's history rows straight into the real store, sealed as ingest seals them, for read-side tests.

The loyalty tables have no writer yet (the loyalty engine comes later), so every kind is written here the same
way: one Core insert per row, text sealed with the owning member's data key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from uuid import UUID

from sqlalchemy import Table, insert, update

from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.members.directory import MemberDirectory
from core.members.profile import MemberProfile
from core.store import models
from core.store.models import table_of
from core.store.records import member_keys

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """``minutes`` after ``T0``."""
    return T0 + timedelta(minutes=minutes)


class History:
    """Members and history rows of every kind; each method returns the new row's id."""

    def __init__(self, directory: MemberDirectory) -> None:
        self.directory = directory
        self.engine = directory.engine
        self._serial = count(1)

    def member(self, name: str = "山田 花子", **profile: Any) -> UUID:
        return self.directory.add(MemberProfile(name=name, **profile)).id

    def merge(self, member_id: UUID, into: UUID) -> None:
        """Put ``member_id`` in the cluster of ``into`` as a merge would (the merge service is not under test)."""
        members = table_of(models.Member)
        with self.engine.begin() as conn:
            conn.execute(update(members).where(members.c.id == member_id).values(status="merged", merged_into=into))

    def purchase(
        self, member_id: UUID, when: datetime, amount: int = 1_000, *, source: str = "pos", channel: str = "store",
        status: str = "completed", store_code: str | None = "S01",
    ) -> int:  # fmt: skip
        row = {
            "member_id": member_id, "source": source, "external_id": self._external_id("R"), "channel": channel,
            "store_code": store_code, "status": status, "total_amount": amount, "purchased_at": when,
            "source_updated_at": when,
        }  # fmt: skip
        return self._insert(models.Purchase, row)

    def adjustment(self, purchase_id: int, when: datetime, amount: int, *, kind: str = "refund") -> int:
        row = {
            "purchase_id": purchase_id, "source": "pos", "external_id": self._external_id("A"), "kind": kind,
            "amount": amount, "occurred_at": when,
        }  # fmt: skip
        return self._insert(models.PurchaseAdjustment, row)

    def inquiry(
        self, member_id: UUID, when: datetime, *, subject: str | None = None, messages: Sequence[str] = (),
        channel: str = "phone", status: str = "open", source: str = "desk",
    ) -> int:  # fmt: skip
        row = {
            "member_id": member_id, "source": source, "external_id": self._external_id("T"), "channel": channel,
            "category": "delivery", "status": status, "opened_at": when, "source_updated_at": when,
            **self._sealed(member_id, "inquiries", subject=subject),
        }  # fmt: skip
        inquiry_id = self._insert(models.Inquiry, row)
        for minute, body in enumerate(messages):
            message = {
                "inquiry_id": inquiry_id, "source": source, "external_id": self._external_id("M"),
                "author_kind": "member", "sent_at": when + timedelta(minutes=minute),
                **self._sealed(member_id, "inquiry_messages", body=body),
            }  # fmt: skip
            self._insert(models.InquiryMessage, message)
        return inquiry_id

    def survey(self, member_id: UUID, when: datetime, *, score: int = 8, free_text: str | None = None) -> int:
        row = {
            "member_id": member_id, "source": "mail", "external_id": self._external_id("S"), "survey_code": "nps",
            "score": score, "answers": {"q1": "yes"}, "answered_at": when, "source_updated_at": when,
            **self._sealed(member_id, "survey_responses", free_text=free_text),
        }  # fmt: skip
        return self._insert(models.SurveyResponse, row)

    def points(
        self, member_id: UUID, when: datetime, points: int, *, kind: str = "earn", status: str = "available",
        expires_at: datetime | None = None, rule_version: str = "2026.1",
    ) -> int:  # fmt: skip
        row = {
            "member_id": member_id, "kind": kind, "points": points, "status": status, "occurred_at": when,
            "source_event": self._external_id("E"), "rule_version": rule_version, "expires_at": expires_at,
        }  # fmt: skip
        return self._insert(models.PointLedgerEntry, row)

    def rank(self, member_id: UUID, when: datetime, to_rank: str, *, from_rank: str | None = None) -> int:
        row = {
            "member_id": member_id, "from_rank": from_rank, "to_rank": to_rank, "reason": "spend_12m >= 50000",
            "rule_version": "2026.1", "changed_at": when,
        }  # fmt: skip
        return self._insert(models.RankChange, row)

    def coupon(self, member_id: UUID, issued: datetime, *, used: datetime | None = None) -> int:
        row = {
            "member_id": member_id, "code": self._external_id("C"), "kind": "birthday", "value_type": "percent",
            "value": 10, "issued_at": issued, "used_at": used,
        }  # fmt: skip
        return self._insert(models.Coupon, row)

    def consent(self, member_id: UUID, when: datetime, channel: str, subscribed: bool, *, source: str = "mail") -> int:
        row = {
            "member_id": member_id, "source": source, "external_id": self._external_id("K"), "channel": channel,
            "subscribed": subscribed, "changed_at": when, "source_updated_at": when,
        }  # fmt: skip
        return self._insert(models.ConsentEvent, row)

    def segment(self, member_id: UUID, code: str) -> None:
        self._insert(models.MemberSegment, {"member_id": member_id, "segment_code": code, "since": T0})

    # ── internals ──────────────────────────────────────────────────────────────────────────────────

    def _insert(self, model: type[models.Base], row: dict[str, Any]) -> int:
        table: Table = table_of(model)
        with self.engine.begin() as conn:
            result = conn.execute(insert(table).values(**row))
        key = result.inserted_primary_key
        return int(key[0]) if key and isinstance(key[0], int) else 0

    def _sealed(self, member_id: UUID, table: str, **fields: str | None) -> dict[str, bytes | None]:
        with self.engine.connect() as conn:
            (row,) = member_keys(conn, [member_id])
        cipher = self.directory.sealer.cipher_for(WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version))
        return MemberSealer.seal_fields(cipher, member_id, fields, table=table)

    def _external_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._serial):05d}"
