"""The unified member timeline: a member's whole history across every source and every merged member.

Any member id of a cluster gives the timeline of the cluster's root: purchases, refunds and cancellations,
inquiries with their messages, point movements, rank changes, survey answers, coupons issued and used, and
consent changes, newest first, a page at a time. Text members wrote is decrypted with the data key of the
member whose row it is; an erased member's text comes back as ``None``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, Row

from core.crypto.envelope import FieldCipher
from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.errors import InvalidInputError, MemberNotFoundError
from core.members.timeline_entries import (
    AdjustmentEntry,
    ConsentEntry,
    CouponEntry,
    InquiryEntry,
    InquiryMessageEntry,
    PointsEntry,
    PurchaseEntry,
    RankChangeEntry,
    SurveyEntry,
    TimelineEntry,
    TimelinePage,
)
from core.store import identity
from core.store import timeline as repo
from core.store.database import read_only
from core.store.timeline import CHANNELS_OF_KIND, KINDS, TimelineKey

__all__ = [
    "CHANNELS",
    "KINDS",
    "MAX_PAGE_SIZE",
    "AdjustmentEntry",
    "ConsentEntry",
    "CouponEntry",
    "InquiryEntry",
    "InquiryMessageEntry",
    "MemberTimeline",
    "PointsEntry",
    "PurchaseEntry",
    "RankChangeEntry",
    "SurveyEntry",
    "TimelineEntry",
    "TimelinePage",
    "member_cluster",
]

MAX_PAGE_SIZE = 200
CHANNELS = tuple(dict.fromkeys(channel for channels in CHANNELS_OF_KIND.values() for channel in channels))
_MAX_CURSOR_LENGTH = 200
_BAD_CURSOR = "the timeline cursor is malformed; ask for the first page again without a cursor"


class MemberTimeline:
    """Pages of the unified timeline of a member's cluster."""

    def __init__(self, engine: Engine, sealer: MemberSealer) -> None:
        self.engine = engine
        self.sealer = sealer

    def page(
        self,
        member_id: UUID,
        *,
        kinds: Collection[str] | None = None,
        channels: Collection[str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
        conn: Connection | None = None,
    ) -> TimelinePage:
        """The newest ``limit`` entries (1..200) of the given kinds and channels, after ``cursor`` if given.

        A cursor comes from the previous page with the same member and filters; a malformed one, an unknown
        kind or channel and a limit out of range raise ``InvalidInputError``. Read in ``conn``'s transaction
        when given (say, the request's, which also writes the audit row), else in a transaction of its own.
        """
        wanted = _checked(kinds, KINDS, "kind")
        in_channels = _checked(channels, CHANNELS, "channel") if channels else None
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"a timeline page holds 1 to {MAX_PAGE_SIZE} entries, not {limit}")
        query = _PageQuery(wanted, in_channels, limit, decode_cursor(cursor) if cursor is not None else None)
        if conn is not None:
            return self._page(*query.read(conn, member_id), limit)
        # begin(): the read ends in COMMIT; psycopg forgets its prepared statements on ROLLBACK
        with read_only(self.engine).begin() as own:
            keys, rows = query.read(own, member_id)
        return self._page(keys, rows, limit)

    def _page(self, keys: list[Row[Any]], rows: repo.PageRows, limit: int) -> TimelinePage:
        shown = rows.entries[:limit]
        entries = tuple(map(_Entries(_Texts(self.sealer, keys), rows.messages), shown))
        return TimelinePage(entries, encode_cursor(entries[-1]) if len(rows.entries) > limit else None)


@dataclass(frozen=True)
class _PageQuery:
    """A checked request for a page: kinds, channels (``None``: any), size, and the key to resume after."""

    kinds: tuple[str, ...]
    channels: tuple[str, ...] | None
    limit: int
    after: TimelineKey | None

    def read(self, conn: Connection, member_id: UUID) -> tuple[list[Row[Any]], repo.PageRows]:
        """The cluster's member rows (for their data keys) and one row more than the page (to know if one follows)."""
        keys = identity.cluster_rows(conn, member_id)
        if not keys:
            raise MemberNotFoundError(f"no member with id {member_id}")
        rows = repo.timeline_page(
            conn, [row.id for row in keys], kinds=self.kinds, channels=self.channels, limit=self.limit + 1,
            after=self.after, threads_of=self.limit,
        )  # fmt: skip
        return keys, rows


def member_cluster(conn: Connection, member_id: UUID) -> list[UUID]:
    """Every member of the cluster ``member_id`` belongs to, its root first (an unknown id alone)."""
    return [row.id for row in identity.cluster_rows(conn, member_id)] or [member_id]


def encode_cursor(entry: TimelineEntry) -> str:
    """The opaque, URL-safe cursor of the page after ``entry``."""
    key = json.dumps([entry.occurred_at.isoformat(), entry.kind, entry.entry_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(key.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> TimelineKey:
    """The key a cursor stands for; ``InvalidInputError`` for anything ``encode_cursor`` did not make."""
    if not cursor or len(cursor) > _MAX_CURSOR_LENGTH:
        raise InvalidInputError(_BAD_CURSOR)
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        at, kind, entry_id = json.loads(text)
        key = TimelineKey(datetime.fromisoformat(at), kind, entry_id)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidInputError(_BAD_CURSOR) from None
    aware = key.occurred_at.utcoffset() is not None
    if not aware or kind not in KINDS or type(entry_id) is not int or entry_id < 0:
        raise InvalidInputError(_BAD_CURSOR)
    return key


# ── rows to entries ──────────────────────────────────────────────────────────────────────────────────


class _Texts:
    """Opens sealed text with the data key of the member who owns the row; ``None`` once they are erased."""

    def __init__(self, sealer: MemberSealer, keys: Iterable[Row[Any]]) -> None:
        self._sealer = sealer
        self._keys = {
            row.id: WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version)
            for row in keys
            if row.status != "erased" and row.wrapped_dek is not None
        }
        self._ciphers: dict[UUID, FieldCipher] = {}

    def open(self, owner: UUID, blob: bytes | None, table: str, column: str) -> str | None:
        """The plaintext of one sealed column of ``owner``'s row."""
        key = self._keys.get(owner)
        if blob is None or key is None:
            return None
        if owner not in self._ciphers:
            self._ciphers[owner] = self._sealer.cipher_for(key)
        return self._sealer.open_fields(self._ciphers[owner], owner, {column: blob}, table=table)[column[:-3]]


class _Entries:
    """Typed entries from page rows, sealed text opened, inquiries with their threads."""

    def __init__(self, texts: _Texts, messages: Iterable[Row[Any]]) -> None:
        self.texts = texts
        self.threads: dict[int, list[InquiryMessageEntry]] = {}
        for message in messages:
            body = texts.open(message.member_id, message.sealed, "inquiry_messages", "body_ct")
            entry = InquiryMessageEntry(message.entry_id, message.code, body, message.occurred_at)
            self.threads.setdefault(message.inquiry_id, []).append(entry)
        self.build: dict[str, Callable[[Row[Any]], TimelineEntry]] = {
            "purchase": self.purchase,
            "refund": self.adjustment,
            "cancel": self.adjustment,
            "inquiry": self.inquiry,
            "points": self.points,
            "rank_change": self.rank_change,
            "survey": self.survey,
            "coupon_issued": self.coupon,
            "coupon_used": self.coupon,
            "consent": self.consent,
        }

    def __call__(self, row: Row[Any]) -> TimelineEntry:
        return self.build[row.kind](row)

    @staticmethod
    def purchase(row: Row[Any]) -> TimelineEntry:
        return PurchaseEntry(*_key(row), row.status, row.amount, row.code, row.reference)

    @staticmethod
    def adjustment(row: Row[Any]) -> TimelineEntry:
        return AdjustmentEntry(*_key(row), row.amount, row.purchase_id, row.reference, row.code)

    def inquiry(self, row: Row[Any]) -> TimelineEntry:
        subject = self.texts.open(row.member_id, row.sealed, "inquiries", "subject_ct")
        thread = tuple(self.threads.get(row.entry_id, ()))
        return InquiryEntry(*_key(row), row.status, row.code, subject, row.until, row.reference, thread)

    @staticmethod
    def points(row: Row[Any]) -> TimelineEntry:
        return PointsEntry(
            *_key(row), row.code, row.amount, row.status, row.rule_version, row.reference, row.until, row.note
        )

    @staticmethod
    def rank_change(row: Row[Any]) -> TimelineEntry:
        return RankChangeEntry(*_key(row), row.former_code, row.code, row.note, row.rule_version)

    def survey(self, row: Row[Any]) -> TimelineEntry:
        free_text = self.texts.open(row.member_id, row.sealed, "survey_responses", "free_text_ct")
        return SurveyEntry(*_key(row), row.code, row.amount, free_text, row.reference)

    @staticmethod
    def coupon(row: Row[Any]) -> TimelineEntry:
        return CouponEntry(*_key(row), row.code, row.note, row.status, row.amount, row.until)

    @staticmethod
    def consent(row: Row[Any]) -> TimelineEntry:
        return ConsentEntry(*_key(row), row.status == "subscribed")


def _key(row: Row[Any]) -> tuple[datetime, str, int, UUID, str | None, str | None]:
    return row.occurred_at, row.kind, row.entry_id, row.member_id, row.source, row.channel


def _checked(values: Collection[str] | None, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    """The values, each one known; all of them when none are given."""
    if not values:
        return known
    if not set(values) <= set(known):
        raise InvalidInputError(f"unknown timeline {what}; choose from {', '.join(known)}")
    return tuple(value for value in known if value in values)
