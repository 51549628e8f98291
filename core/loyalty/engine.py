"""``LoyaltyEngine``: the one entry point of the loyalty program, working in the caller's transaction.

Every method takes a connection with an open write transaction and returns the domain events to publish once
that transaction commits (``core.plugins.manager.publish_events``). ``apply_purchases`` is meant for the
ingest sink, in the transaction that stores the purchases; the jobs are for the scheduler and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from core.events import DomainEvent, RankChanged
from core.loyalty.accounts import Balance, PointsAccount, PointsMovement
from core.loyalty.jobs import end_rank_period, lapse_expired_lots
from core.loyalty.purchases import PurchaseBatch
from core.loyalty.recompute import Recompute, RecomputeReport, raise_ranks, settle
from core.loyalty.rules import LoyaltyRules
from core.store import identity as identity_repo
from core.store import loyalty as repo

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class LoyaltyOutcome:
    """What one call wrote: ledger entries, rank changes, and the events to publish after the commit."""

    entries: int
    rank_changes: int
    events: tuple[DomainEvent, ...]


class LoyaltyEngine:
    """Points and ranks under one set of rules; ``clock`` gives the current time (aware)."""

    def __init__(self, rules: LoyaltyRules, clock: Clock) -> None:
        self.rules = rules
        self.clock = clock

    def apply_purchases(self, conn: Connection, purchase_ids: Iterable[int]) -> LoyaltyOutcome:
        """Earn, reverse and upgrade for stored purchases (new, re-sent, refunded or cancelled); idempotent."""
        written, events = PurchaseBatch(conn, self.rules, self.clock()).apply(purchase_ids)
        return _outcome(written, events)

    def balance(self, conn: Connection, member_id: UUID) -> Balance:
        """The points of the member's cluster now."""
        return PointsAccount(conn, self.rules, self.clock()).balance(member_id)

    def redeem(self, conn: Connection, member_id: UUID, points: int, reason: str, source_event: str) -> PointsMovement:
        """Spend points of the member's cluster; refused (``InvalidInputError``) beyond the spendable balance."""
        return PointsAccount(conn, self.rules, self.clock()).redeem(member_id, points, reason, source_event)

    def adjust(self, conn: Connection, member_id: UUID, points: int, reason: str, source_event: str) -> PointsMovement:
        """Credit (positive) or debit (negative) points by hand; a debit is refused beyond the balance."""
        return PointsAccount(conn, self.rules, self.clock()).adjust(member_id, points, reason, source_event)

    def run_expiry(self, conn: Connection, now: datetime) -> LoyaltyOutcome:
        """Write off lots whose expiry has come, and show pending lots whose window has passed as available."""
        written, events = lapse_expired_lots(conn, self.rules, now)
        repo.release_pending(conn, now)
        return _outcome(written, events)

    def run_rank_period_end(self, conn: Connection, now: datetime) -> LoyaltyOutcome:
        """Apply the downgrades (and any upgrades) due at the end of the rank period before ``now``, once."""
        _, events = end_rank_period(conn, self.rules, now)
        return _outcome(0, events)

    def recompute(self, conn: Connection, *, verify: bool) -> RecomputeReport:
        """Rebuild balances and ranks from the history and report differences; repair first unless ``verify``."""
        return Recompute(conn, self.rules, self.clock()).run(verify=verify)

    def recompute_clusters(self, conn: Connection, member_ids: Iterable[UUID], *, cause: str) -> LoyaltyOutcome:
        """After a merge or unmerge of these members: settle their clusters' points and apply due upgrades.

        ``cause`` names the identity change once and for all (e.g. ``unmerge:12``): settlement entries are keyed
        ``<cause>:<root>``.
        """
        now = self.clock()
        roots = sorted(set(identity_repo.roots(conn, member_ids).values()))
        written, events = settle(conn, self.rules, now, roots, cause)
        return _outcome(written, [*events, *raise_ranks(conn, self.rules, now, roots)])


def _outcome(written: int, events: list[DomainEvent]) -> LoyaltyOutcome:
    return LoyaltyOutcome(written, sum(isinstance(e, RankChanged) for e in events), tuple(events))
