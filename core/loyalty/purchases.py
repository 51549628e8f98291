"""Points for a batch of stored purchases: earning (with immediate rank upgrades), then reversals.

Called in the transaction that stored the purchases, at batch grain: a fixed handful of bulk selects and one
insert per table whatever the batch size. Applying the same purchases again writes nothing new, since every
entry is keyed by its source event; a purchase applied again after a refund arrived writes only the reversal.

Earning takes each cluster's new purchases in the order they were made: a purchase earns at the rank the
cluster holds before it, and if it lifts the cluster's measure over a threshold the cluster moves up at once
and later purchases earn at the new rank. Reversals take back points in proportion to the yen refunded
(``core.loyalty.earning``): from the purchase's own lot first, then from the cluster's other lots that have
not lapsed, in spending order. Points already spent are not taken back twice: the shortfall is recorded on
the entry (``unrecovered_points``) and the balance never goes below zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.events import DomainEvent
from core.loyalty.earning import VOID_STATUSES, Refunds, basis_yen, net_spend, points_for, points_standing
from core.loyalty.ledger import Entry, LedgerWriter, adjustment_event, earn_event, load_lots, void_event
from core.loyalty.lots import Lot, in_spend_order, take
from core.loyalty.ranks import RankMoves, Window, cluster_measures
from core.loyalty.rules import LoyaltyRules, Rank
from core.store import identity as identity_repo
from core.store import loyalty as repo
from core.store.loyalty import MemberPurchase


class PurchaseBatch:
    """One call of ``LoyaltyEngine.apply_purchases``."""

    def __init__(self, conn: Connection, rules: LoyaltyRules, now: datetime) -> None:
        self.conn = conn
        self.rules = rules
        self.now = now
        self.window = Window.ending(rules, now, open_ended=True)

    def apply(self, purchase_ids: Iterable[int]) -> tuple[int, list[DomainEvent]]:
        """Earn and reverse what is due for the purchases; returns entries written and the events."""
        purchases = repo.purchases_with_members(self.conn, purchase_ids)
        roots, ranks_now = self._clusters(purchases)
        if roots:  # every cluster of the batch at once, in id order: batches committing side by side never deadlock
            repo.lock_clusters(self.conn, set(roots.values()))
        live = [p for p in purchases if p.member_id in roots]
        adjustments = repo.adjustments_of(self.conn, [p.id for p in live]) if live else {}
        new = [p for p in live if not p.earned]
        ranks = RankMoves(self.rules, self.now, ranks_now)
        ledger = LedgerWriter(roots, self.now)
        self._earn(new, adjustments, ranks, ledger)
        written = len(ledger.entries)
        events: list[DomainEvent] = [*ledger.write(self.conn), *ranks.write(self.conn)]
        written += self._reverse(live, roots, adjustments, ledger)
        events.extend(ledger.write(self.conn))
        return written, events

    def _clusters(self, purchases: Sequence[MemberPurchase]) -> tuple[dict[UUID, UUID], dict[UUID, str | None]]:
        """Each buying member's root, and each root's rank; members of erased clusters are left out."""
        roots: dict[UUID, UUID] = {}
        ranks: dict[UUID, str | None] = {}
        for p in purchases:
            if p.merged_into is None and p.member_status != "erased":
                roots[p.member_id], ranks[p.member_id] = p.member_id, p.rank_code
        merged = {p.member_id for p in purchases if p.merged_into is not None}
        if merged:
            merged_roots = identity_repo.roots(self.conn, merged)
            for root, state in repo.member_states(self.conn, set(merged_roots.values())).items():
                if state.status != "erased":
                    ranks[root] = state.rank_code
            roots.update((member, root) for member, root in merged_roots.items() if root in ranks)
        return roots, ranks

    # ── earning ────────────────────────────────────────────────────────────────────────────────────

    def _earn(
        self,
        new: Sequence[MemberPurchase],
        adjustments: dict[int, list[Row[Any]]],
        ranks: RankMoves,
        ledger: LedgerWriter,
    ) -> None:
        by_root: dict[UUID, list[MemberPurchase]] = defaultdict(list)
        roots = ledger.roots
        for purchase in sorted(new, key=lambda p: (p.purchased_at, p.id)):
            by_root[roots[purchase.member_id]].append(purchase)
        if not by_root:
            return
        climbing = [root for root in by_root if not ranks.at_top(root)]  # a cluster at the top cannot move up
        clusters = repo.cluster_members(self.conn, climbing) if climbing else {}
        [level] = cluster_measures(self.conn, self.rules, _owners(clusters), [self.window]) if climbing else [{}]
        segments = repo.segments_of(self.conn, by_root) if self.rules.targets_segments else {}
        earn = _Earning(self.rules, self.now)
        nothing: frozenset[str] = frozenset()
        for root, bought in by_root.items():
            rank = ranks.rank_of(root)
            in_segments = segments.get(root, nothing)
            if root not in clusters:  # at the top: earn, nothing to judge
                for purchase in bought:
                    ledger.add(earn.entry(purchase, root, rank, in_segments))
                continue
            self._earn_climbing(root, bought, level.get(root, 0), adjustments, ranks, in_segments, earn, ledger)

    def _earn_climbing(
        self,
        root: UUID,
        bought: list[MemberPurchase],
        measured: int,
        adjustments: dict[int, list[Row[Any]]],
        ranks: RankMoves,
        segments: frozenset[str],
        earn: _Earning,
        ledger: LedgerWriter,
    ) -> None:
        """Earn for one cluster's purchases in order, moving it up the moment its measure crosses a threshold.

        ``measured`` is the cluster's measure now, the new purchases included.
        """
        rank = ranks.rank_of(root)
        spend = self.rules.ranks.measure == "spend"
        counted = {p.id: self._spend(p, adjustments) for p in bought if self.window.holds(p.purchased_at)}
        if spend:  # replay the purchases already counted in order: take them out first
            measured -= sum(counted.values())
        following = self.rules.above(rank)
        for purchase in bought:
            entry = earn.entry(purchase, root, rank, segments)
            ledger.add(entry)
            if purchase.id not in counted:
                continue
            measured += counted[purchase.id] if spend else entry.points
            if following is not None and measured >= following.threshold:
                ranks.raise_to(root, measured, "purchase")
                rank = ranks.rank_of(root)
                following = self.rules.above(rank)

    def _spend(self, purchase: MemberPurchase, adjustments: dict[int, list[Row[Any]]]) -> int:
        refunds = Refunds()
        for adjustment in adjustments.get(purchase.id, ()):
            refunds = refunds.plus(adjustment.kind, adjustment.amount)
        yen = basis_yen(self.rules, purchase.total_amount, purchase.tax_amount)
        return net_spend(yen, purchase.total_amount, purchase.status, refunds)

    # ── reversals ──────────────────────────────────────────────────────────────────────────────────

    def _reverse(
        self,
        live: Sequence[MemberPurchase],
        roots: dict[UUID, UUID],
        adjustments: dict[int, list[Row[Any]]],
        ledger: LedgerWriter,
    ) -> int:
        events = {p.id: reversal_events(p, adjustments.get(p.id, ())) for p in live}
        wanted = [source_event for owed in events.values() for source_event, _ in owed]
        if not wanted:
            return 0
        stored = repo.entries_by_source_event(self.conn, wanted)
        due = [p for p in live if any(e not in stored for e, _ in events[p.id])]
        if not due:
            return 0
        earned = repo.entries_by_source_event(self.conn, [earn_event(p.source, p.external_id) for p in due])
        due_roots = {roots[p.member_id] for p in due}
        repo.lock_clusters(self.conn, due_roots)
        lots = load_lots(self.conn, repo.cluster_members(self.conn, due_roots))
        for purchase in sorted(due, key=lambda p: (p.purchased_at, p.id)):
            earn = earned[earn_event(purchase.source, purchase.external_id)]
            cluster_lots = lots[roots[purchase.member_id]]
            self._reverse_one(purchase, earn, events[purchase.id], stored, cluster_lots, ledger)
        return len(ledger.entries)

    def _reverse_one(
        self,
        purchase: MemberPurchase,
        earn: Row[Any],
        owed: Sequence[tuple[str, Row[Any] | None]],
        stored: dict[str, Row[Any]],
        lots: list[Lot],
        ledger: LedgerWriter,
    ) -> None:
        refunds = Refunds()
        for source_event, adjustment in owed:  # those already reversed first: they set what still stands
            if source_event in stored:
                refunds = refunds_after(refunds, adjustment)
        for source_event, adjustment in owed:
            if source_event in stored:
                continue
            before = points_standing(earn.points, purchase.total_amount, refunds)
            refunds = refunds_after(refunds, adjustment)
            owed_points = before - points_standing(earn.points, purchase.total_amount, refunds)
            taken = take(self._reversal_order(lots, earn.id), owed_points)
            got = sum(part for _, part in taken)
            new = Entry(
                purchase.member_id,
                "reverse",
                -got,
                source_event,
                self.now if adjustment is None else adjustment.occurred_at,
                self.rules.version,
                self.now,
                note=_describe(purchase, adjustment),
                purchase_id=purchase.id,
                unrecovered_points=(owed_points - got) or None,
            )
            ledger.add(new, taken)

    def _reversal_order(self, lots: list[Lot], own_lot: int) -> list[Lot]:
        """The purchase's own lot first, then the cluster's other lots that have not lapsed."""
        live = [lot for lot in lots if not lot.lapsed(self.now)]
        own = [lot for lot in live if lot.id == own_lot]
        return own + in_spend_order(lot for lot in live if lot.id != own_lot)


class _Earning:
    """The earn entry of one purchase at a rank: what every purchase of a batch shares, looked up once."""

    def __init__(self, rules: LoyaltyRules, now: datetime) -> None:
        self.rules = rules
        self.now = now
        self.pending = timedelta(days=rules.earning.pending_days)
        self.expires_at = rules.expiry.expires_at

    def entry(self, purchase: MemberPurchase, root: UUID, rank: Rank, segments: frozenset[str]) -> Entry:
        """The earn entry of ``purchase`` for the cluster ``root`` at ``rank``."""
        rules = self.rules
        campaigns = rules.campaigns_for(purchase.purchased_at, purchase.channel, rank.code, segments, root)
        points = points_for(rules, basis_yen(rules, purchase.total_amount, purchase.tax_amount), rank, campaigns)
        available_at = purchase.purchased_at + self.pending
        return Entry(
            purchase.member_id,
            "earn",
            points,
            earn_event(purchase.source, purchase.external_id),
            purchase.purchased_at,
            rules.version,
            self.now,
            "pending" if available_at > self.now else "available",
            available_at,
            self.expires_at(purchase.purchased_at),
            None,
            purchase.id,
            rank.code,
            ",".join(campaign.code for campaign in campaigns) or None,
        )


def reversal_events(purchase: MemberPurchase, adjustments: Sequence[Row[Any]]) -> list[tuple[str, Row[Any] | None]]:
    """What a purchase's refunds and status call for, in order: (source event, adjustment or ``None`` = void).

    A purchase whose status says it no longer stands is voided unless its adjustments already take it all back.
    """
    owed: list[tuple[str, Row[Any] | None]] = [
        (adjustment_event(a.kind, a.source, a.external_id), a) for a in adjustments
    ]
    refunds = Refunds()
    for adjustment in adjustments:
        refunds = refunds.plus(adjustment.kind, adjustment.amount)
    if purchase.status in VOID_STATUSES and not refunds.cancelled and refunds.yen < purchase.total_amount:
        owed.append((void_event(purchase.source, purchase.external_id), None))
    return owed


def refunds_after(refunds: Refunds, adjustment: Row[Any] | None) -> Refunds:
    """``refunds`` and one more adjustment (``None``: the purchase's status voids it)."""
    return Refunds(refunds.yen, True) if adjustment is None else refunds.plus(adjustment.kind, adjustment.amount)


def _describe(purchase: MemberPurchase, adjustment: Row[Any] | None) -> str:
    if adjustment is None:
        return f"purchase {purchase.status}"
    return f"refund of {adjustment.amount:,} yen" if adjustment.kind == "refund" else "purchase cancelled"


def _owners(clusters: dict[UUID, list[UUID]]) -> dict[UUID, UUID]:
    """Member → root, from root → members."""
    return {member_id: root for root, members in clusters.items() for member_id in members}
