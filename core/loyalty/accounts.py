"""A cluster's points account: its balance, redemptions and manual adjustments.

The balance belongs to the cluster: the lots of every member merged into the root count, and redemptions and
adjustments are written on the root. Redemption takes spendable lots (out of their pending window, not
lapsed) in spending order, and refuses to take more than there is. A call repeated with the same source event
returns the first call's outcome instead of spending twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from core.errors import InvalidInputError, MemberErasedError, MemberNotFoundError
from core.events import DomainEvent
from core.loyalty.ledger import Entry, LedgerWriter, load_lots
from core.loyalty.lots import Lot, in_spend_order, take
from core.loyalty.rules import LoyaltyRules
from core.store import identity as identity_repo
from core.store import loyalty as repo

_SOURCE_EVENT_MAX = 512
_REASON_MAX = 255


@dataclass(frozen=True)
class Balance:
    """Points of a cluster at one moment: spendable, pending (in the return window), and the next expiry.

    ``lapsed`` counts points past their expiry that the expiry job has not written off yet: they are no
    longer spendable.
    """

    member_id: UUID
    available: int
    pending: int
    lapsed: int
    next_expiry: datetime | None
    expiring: int

    @property
    def total(self) -> int:
        """Spendable and pending points together."""
        return self.available + self.pending

    @classmethod
    def of(cls, root: UUID, lots: Sequence[Lot], now: datetime) -> Balance:
        """The balance the lots make at ``now``."""
        live = [lot for lot in lots if lot.remaining > 0 and not lot.lapsed(now)]
        expiries = [lot.expires_at for lot in live if lot.expires_at is not None]
        next_expiry = min(expiries, default=None)
        return cls(
            member_id=root,
            available=sum(lot.remaining for lot in live if lot.spendable(now)),
            pending=sum(lot.remaining for lot in live if not lot.spendable(now)),
            lapsed=sum(lot.remaining for lot in lots if lot.remaining > 0 and lot.lapsed(now)),
            next_expiry=next_expiry,
            expiring=sum(lot.remaining for lot in live if next_expiry and lot.expires_at == next_expiry),
        )


@dataclass(frozen=True)
class PointsMovement:
    """The outcome of a redemption or adjustment; ``replayed`` if its source event was already recorded."""

    source_event: str
    points: int
    balance: Balance
    events: tuple[DomainEvent, ...]
    replayed: bool = False


class PointsAccount:
    """Balance, redemption and adjustment of clusters, in the caller's transaction."""

    def __init__(self, conn: Connection, rules: LoyaltyRules, now: datetime) -> None:
        self.conn = conn
        self.rules = rules
        self.now = now

    def balance(self, member_id: UUID) -> Balance:
        """The balance of the cluster ``member_id`` belongs to."""
        root = self._root(member_id)
        return Balance.of(root, self._lots(root), self.now)

    def redeem(self, member_id: UUID, points: int, reason: str, source_event: str) -> PointsMovement:
        """Spend ``points``; ``InvalidInputError`` ("balance is N points") if fewer are spendable."""
        if points <= 0:
            raise InvalidInputError("points to redeem must be a positive whole number")
        return self._spend(member_id, "redeem", points, reason, source_event)

    def adjust(self, member_id: UUID, points: int, reason: str, source_event: str) -> PointsMovement:
        """Credit (positive: a new lot, spendable at once) or debit (negative, like a redemption) points."""
        if points == 0:
            raise InvalidInputError("an adjustment of 0 points changes nothing")
        if points < 0:
            return self._spend(member_id, "adjust", -points, reason, source_event)
        root, replay = self._prepare(member_id, "adjust", points, reason, source_event)
        if replay is not None:
            return replay
        credit = Entry(
            root, "adjust", points, source_event, self.now, self.rules.version, self.now,
            available_at=self.now, expires_at=self.rules.expiry.expires_at(self.now), note=reason.strip(),
        )  # fmt: skip
        return self._write(root, credit, ())

    def _spend(self, member_id: UUID, kind: str, points: int, reason: str, source_event: str) -> PointsMovement:
        root, replay = self._prepare(member_id, kind, -points, reason, source_event)
        if replay is not None:
            return replay
        repo.lock_clusters(self.conn, [root])
        lots = self._lots(root)
        spendable = [lot for lot in lots if lot.spendable(self.now)]
        available = sum(lot.remaining for lot in spendable)
        if available < points:
            raise InvalidInputError(f"balance is {available} points, fewer than the {points} asked for")
        taken = take(in_spend_order(spendable), points)
        debit = Entry(root, kind, -points, source_event, self.now, self.rules.version, self.now, note=reason.strip())
        return self._write(root, debit, taken, lots)

    def _prepare(
        self, member_id: UUID, kind: str, points: int, reason: str, source_event: str
    ) -> tuple[UUID, PointsMovement | None]:
        """The cluster root, and the earlier outcome if this source event was already recorded."""
        if not reason.strip() or len(reason.strip()) > _REASON_MAX:
            raise InvalidInputError(f"give a reason of 1 to {_REASON_MAX} characters: it is kept in the ledger")
        if not source_event or len(source_event) > _SOURCE_EVENT_MAX:
            raise InvalidInputError(f"the source event must be 1 to {_SOURCE_EVENT_MAX} characters")
        root = self._root(member_id)
        earlier = repo.entries_by_source_event(self.conn, [source_event]).get(source_event)
        if earlier is None:
            return root, None
        same_root = identity_repo.roots(self.conn, [earlier.member_id])[earlier.member_id] == root
        if (earlier.kind, earlier.points) != (kind, points) or not same_root:
            raise InvalidInputError(f"source event {source_event!r} is already recorded for another movement")
        return root, PointsMovement(source_event, points, self.balance(root), (), replayed=True)

    def _write(
        self, root: UUID, new: Entry, taken: Sequence[tuple[Lot, int]], lots: Sequence[Lot] | None = None
    ) -> PointsMovement:
        ledger = LedgerWriter({root: root}, self.now)
        ledger.add(new, taken)
        events = tuple(ledger.write(self.conn))
        balance = Balance.of(root, self._lots(root) if lots is None else lots, self.now)
        return PointsMovement(new.source_event, new.points, balance, events)

    def _root(self, member_id: UUID) -> UUID:
        root = identity_repo.roots(self.conn, [member_id])[member_id]
        states = repo.member_states(self.conn, {member_id, root})
        if member_id not in states:
            raise MemberNotFoundError(f"no member with id {member_id}")
        if states[root].status == "erased":
            raise MemberErasedError(f"member {member_id} was erased; their points are closed")
        return root

    def _lots(self, root: UUID) -> list[Lot]:
        return load_lots(self.conn, repo.cluster_members(self.conn, [root]))[root]
