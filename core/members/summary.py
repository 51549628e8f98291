"""The member summary of the call-center console: who the member is, where they stand, and why.

Any member id of a cluster gives the summary of the cluster's root, over the history of every member in it.
The figures follow these rules until the loyalty engine brings its own:

- **Spend** (yen): totals of the purchases not cancelled at the source, minus the refunds recorded against
  them; a refund counts in the window of its purchase. The last 12 months are the 365 days up to now, a
  span of time, so the Asia/Tokyo calendar does not move it.
- **Points**: the balance is the sum of ``available`` ledger entries, ``pending`` the sum of pending ones.
  Until the loyalty engine allocates lots, spending (every negative available entry: redeem, expire,
  reverse, negative adjust) is taken to use up the lots (positive available entries) that expire first;
  the nearest expiry is the earliest future ``expires_at`` of a lot with points left, and those points
  are what expires then. Lots without ``expires_at`` never expire.
- **Rank**: the ``to_rank`` of the newest rank change, with its reason and rule version (the explanation);
  the root's ``rank_code`` when no change is recorded.
- **Loyalty score**: the root's score of the last nightly scoring with its parts (``core.loyalty.score``);
  ``None`` until the job has scored the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.errors import MemberNotFoundError
from core.loyalty.score import ScoredMember, explain
from core.members.directory import Clock, MemberDirectory, utc_now
from core.members.profile import Member
from core.store import identity
from core.store import summary as repo
from core.store.database import read_only

__all__ = [
    "ConsentState",
    "LastPurchase",
    "LedgerLine",
    "MemberSummaries",
    "MemberSummary",
    "PointBalance",
    "PurchaseFigures",
    "RankStanding",
    "point_balance",
]

RECENT_SPEND_WINDOW = timedelta(days=365)
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)  # where lots that have lapsed already sort, all together


@dataclass(frozen=True)
class RankStanding:
    """The current rank and the change that set it (``since``, ``reason`` … are ``None`` without one)."""

    code: str | None
    since: datetime | None
    from_rank: str | None
    reason: str | None
    rule_version: str | None


@dataclass(frozen=True)
class PointBalance:
    """Points available and pending, and the nearest expiry with the points lapsing then."""

    available: int
    pending: int
    next_expiry: datetime | None
    expiring_points: int


@dataclass(frozen=True)
class LedgerLine:
    """One point movement behind the balance."""

    occurred_at: datetime
    kind: str
    points: int
    status: str
    rule_version: str | None
    source_event: str
    expires_at: datetime | None


@dataclass(frozen=True)
class PurchaseFigures:
    """Spend in yen (net of refunds) all time and over the last 12 months, and the number of purchases."""

    lifetime_spend: int
    recent_spend: int
    purchase_count: int


@dataclass(frozen=True)
class LastPurchase:
    """The newest purchase not cancelled."""

    purchased_at: datetime
    channel: str
    store_code: str | None
    amount: int
    source: str


@dataclass(frozen=True)
class ConsentState:
    """The latest consent on one marketing channel, and which source reported it when."""

    channel: str
    subscribed: bool
    changed_at: datetime
    source: str


@dataclass(frozen=True)
class MemberSummary:
    """Everything the console shows at the top of a member page; ``rank`` and ``ledger`` explain the standing."""

    member: Member
    merged_member_numbers: tuple[str, ...]
    rank: RankStanding
    points: PointBalance
    purchases: PurchaseFigures
    last_purchase: LastPurchase | None
    open_inquiries: int
    segments: tuple[str, ...]
    consent: tuple[ConsentState, ...]
    ledger: tuple[LedgerLine, ...]
    loyalty_score: ScoredMember | None = None


class MemberSummaries:
    """Builds member summaries from the encrypted store; ``ledger_lines`` is how many movements explain points."""

    def __init__(self, directory: MemberDirectory, *, clock: Clock = utc_now, ledger_lines: int = 10) -> None:
        self.directory = directory
        self.clock = clock
        self.ledger_lines = ledger_lines

    def member_summary(self, member_id: UUID, *, conn: Connection | None = None) -> MemberSummary:
        """The summary of the cluster ``member_id`` belongs to; ``MemberNotFoundError`` for an unknown id.

        Read in ``conn``'s transaction when given (say, the request's, which also writes the opening's audit
        row), else in a transaction of its own.
        """
        now = self.clock()
        if conn is not None:
            return self._summary(self._read(conn, member_id, now), now)
        # begin(): the read ends in COMMIT; psycopg forgets its prepared statements on ROLLBACK
        with read_only(self.directory.engine).begin() as own:
            read = self._read(own, member_id, now)
        return self._summary(read, now)

    def _read(self, conn: Connection, member_id: UUID, now: datetime) -> _SummaryRows:
        rows = identity.cluster_rows(conn, member_id)
        if not rows:
            raise MemberNotFoundError(f"no member with id {member_id}")
        cluster = [row.id for row in rows]
        figures = repo.member_figures(conn, cluster, now - RECENT_SPEND_WINDOW)
        lists = repo.member_lists(conn, cluster, now, self.ledger_lines)
        return _SummaryRows(rows, figures, lists, explain(conn, rows[0].id))

    def _summary(self, read: _SummaryRows, now: datetime) -> MemberSummary:
        root = self.directory.decrypt_row(read.cluster[0])
        figures, lists = read.figures, read.lists
        return MemberSummary(
            member=root,
            merged_member_numbers=_member_numbers(self.directory.sealer, read.cluster[1:]),
            rank=_standing(figures, root),
            points=point_balance(lists.point_totals, now),
            purchases=PurchaseFigures(
                figures.spend - figures.refunded, figures.recent_spend - figures.recent_refunded, figures.purchase_count
            ),
            last_purchase=_last_purchase(figures),
            open_inquiries=figures.open_inquiries,
            segments=tuple(lists.segments),
            consent=tuple(ConsentState(c.channel, bool(c.subscribed), c.changed_at, c.source) for c in lists.consent),
            ledger=tuple(map(_ledger_line, lists.ledger)),
            loyalty_score=read.loyalty_score,
        )


@dataclass(frozen=True)
class _SummaryRows:
    """What a summary is built from: the cluster's member rows (root first), its figures and its lists."""

    cluster: list[Row[Any]]
    figures: Row[Any]
    lists: repo.MemberLists
    loyalty_score: ScoredMember | None


def point_balance(totals: Iterable[Row[Any]], now: datetime) -> PointBalance:
    """Balance, pending points and nearest expiry from ``MemberLists.point_totals`` rows, by the module's rule."""
    available = pending = spent = 0
    lots: list[tuple[datetime, int]] = []
    for row in totals:
        if row.status == "pending":
            pending += row.credited + row.debited
            continue
        available += row.credited + row.debited
        spent -= row.debited
        if row.credited and (row.lapsed or row.expires_at is not None):
            lots.append((_LONG_AGO if row.lapsed else row.expires_at, row.credited))
    for expires_at, points in sorted(lots):
        left = max(points - spent, 0)
        spent = max(spent - points, 0)
        if left and expires_at > now:
            return PointBalance(available, pending, expires_at, min(left, available))
    return PointBalance(available, pending, None, 0)


def _standing(figures: Row[Any], root: Member) -> RankStanding:
    if figures.to_rank is None:
        return RankStanding(root.rank_code, None, None, None, None)
    f = figures
    return RankStanding(f.to_rank, f.rank_changed_at, f.from_rank, f.rank_reason, f.rank_rule_version)


def _last_purchase(figures: Row[Any]) -> LastPurchase | None:
    if figures.last_purchased_at is None:
        return None
    f = figures
    return LastPurchase(f.last_purchased_at, f.last_channel, f.last_store_code, f.last_amount, f.last_source)


def _ledger_line(row: Row[Any]) -> LedgerLine:
    return LedgerLine(
        row.occurred_at, row.kind, row.points, row.status, row.rule_version, row.source_event, row.expires_at
    )


def _member_numbers(sealer: MemberSealer, rows: Iterable[Row[Any]]) -> tuple[str, ...]:
    """The member numbers of merged-in members (erased ones have none left); nothing else is decrypted."""
    numbers: list[str] = []
    for row in rows:
        if row.status == "erased" or row.wrapped_dek is None:
            continue
        cipher = sealer.cipher_for(WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version))
        number = sealer.open_fields(cipher, row.id, {"member_number_ct": row.member_number_ct})["member_number"]
        if number:
            numbers.append(number)
    return tuple(numbers)
