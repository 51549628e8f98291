"""Recompute: rebuild every balance and rank from the purchase history and the ledger, and report differences.

What is checked (a difference is reported for each failure; there must be none):

- every purchase of a member has its earn entry, worth what the rules give for its yen, the rank recorded on
  the entry and its campaigns (entries written under another rule version are counted, not judged), and the
  recorded campaigns are the ones that apply;
- every refund, cancellation and void status has its reversal, and the reversals of a purchase add up (taken
  plus unrecovered) to what its refunds take back;
- every lot holds at least what was taken from it, every spending entry's consumptions add up to its points,
  and each cluster's entries add up to what its lots hold — so no balance is negative;
- every root's rank is the one its history ends at, known to the rules, and not below what its measure earns.

Without ``verify`` the repairable differences are repaired first, by the ordinary append-only paths: missing
earn and reversal entries are written, clusters whose entries and lots disagree (left so by a merge or
unmerge without ``recompute_clusters``) are settled by an adjustment, and missed upgrades are applied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.events import DomainEvent
from core.loyalty.earning import Refunds, basis_yen, points_for, points_standing
from core.loyalty.ledger import Entry, LedgerWriter, earn_event
from core.loyalty.purchases import PurchaseBatch, refunds_after, reversal_events
from core.loyalty.ranks import RankMoves, Window, cluster_measures, roots_through
from core.loyalty.rules import LoyaltyRules
from core.store import identity as identity_repo
from core.store import loyalty as repo
from core.store import loyalty_ranks as ranks_repo
from core.store.loyalty import MemberPurchase

_WALK = 2_000


@dataclass(frozen=True)
class Difference:
    """One thing the stored state says that the rebuild does not; names ids and codes, never personal data."""

    subject: str
    reference: str
    expected: str
    found: str


@dataclass
class RecomputeReport:
    """What a recompute looked at, repaired and found."""

    purchases: int = 0
    clusters: int = 0
    other_rule_versions: int = 0
    repaired_entries: int = 0
    repaired_ranks: int = 0
    differences: list[Difference] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)


class Recompute:
    """One recompute over the whole store, in the caller's transaction."""

    def __init__(self, conn: Connection, rules: LoyaltyRules, now: datetime) -> None:
        self.conn = conn
        self.rules = rules
        self.now = now
        self.report = RecomputeReport()

    def run(self, *, verify: bool) -> RecomputeReport:
        """Repair what can be (unless ``verify``), then check everything."""
        if not verify:
            self._repair()
        self._check_purchases()
        self._check_ledger()
        self._check_ranks()
        return self.report

    def repair(self) -> RecomputeReport:
        """Only repair (missing entries, unsettled clusters, missed upgrades), checking nothing: a rules change."""
        self._repair()
        return self.report

    # ── repair ─────────────────────────────────────────────────────────────────────────────────────

    def _repair(self) -> None:
        for ids in self._purchase_chunks():
            written, events = PurchaseBatch(self.conn, self.rules, self.now).apply(ids)
            self.report.repaired_entries += written
            self.report.events.extend(events)
        unsettled = [root for root, (entries, lots) in self._cluster_sums().items() if entries != lots]
        written, events = settle(self.conn, self.rules, self.now, unsettled, f"recompute:{self.now.isoformat()}")
        self.report.repaired_entries += written
        self.report.events.extend(events)
        moves = raise_ranks(self.conn, self.rules, self.now, [row.id for row in repo.active_roots(self.conn)])
        self.report.repaired_ranks = len(moves)
        self.report.events.extend(moves)

    # ── purchases ──────────────────────────────────────────────────────────────────────────────────

    def _check_purchases(self) -> None:
        for ids in self._purchase_chunks():
            purchases = repo.purchases_with_members(self.conn, ids)
            roots = identity_repo.roots(self.conn, {p.member_id for p in purchases})
            states = repo.member_states(self.conn, set(roots.values()))
            live = [p for p in purchases if states[roots[p.member_id]].status != "erased"]
            adjustments = repo.adjustments_of(self.conn, [p.id for p in live])
            owed = {p.id: reversal_events(p, adjustments.get(p.id, ())) for p in live}
            wanted = [earn_event(p.source, p.external_id) for p in live]
            wanted += [source_event for events in owed.values() for source_event, _ in events]
            entries = repo.entries_by_source_event(self.conn, wanted)
            for purchase in live:
                self._check_purchase(purchase, roots[purchase.member_id], owed[purchase.id], entries)
            self.report.purchases += len(live)

    def _check_purchase(
        self, purchase: MemberPurchase, root: UUID, owed: list[Any], entries: dict[str, Row[Any]]
    ) -> None:
        reference = earn_event(purchase.source, purchase.external_id)
        earn = entries.get(reference)
        if earn is None:
            self._differ("earn", reference, "an earn entry", "none")
            return
        if earn.rule_version == self.rules.version:
            self._check_earned(purchase, root, earn, reference)
        else:
            self.report.other_rule_versions += 1
        refunds, reversed_points = Refunds(), 0
        for source_event, adjustment in owed:
            found = entries.get(source_event)
            if found is None:
                self._differ("reversal", source_event, "a reverse entry", "none")
                continue
            refunds = refunds_after(refunds, adjustment)
            reversed_points += -found.points + (found.unrecovered_points or 0)
        expected = earn.points - points_standing(earn.points, purchase.total_amount, refunds)
        if reversed_points != expected:
            self._differ("reversal", reference, f"{expected} points taken back", f"{reversed_points}")

    def _check_earned(self, purchase: MemberPurchase, root: UUID, earn: Row[Any], reference: str) -> None:
        """The earn entry is worth what the rules give; its campaigns are those that apply.

        Holdout groups are judged on the purchase's own member when it is its cluster's root; a purchase of a
        member merged into another cluster may have earned under either root, so its holdouts are not judged.
        """
        codes = earn.campaign_codes.split(",") if earn.campaign_codes else []
        campaigns = [self.rules.campaign(code) for code in codes]
        known = [campaign for campaign in campaigns if campaign is not None]
        if len(known) != len(codes):
            self._differ("earn", reference, "campaigns of the rules", earn.campaign_codes)
            return
        rank = self.rules.rank(earn.rank_code)
        judged = root if purchase.member_id == root else None
        matching = self.rules.campaigns_for(purchase.purchased_at, purchase.channel, rank.code, None, judged)
        applicable = {campaign.code for campaign in matching}
        certain = {c.code for c in self.rules.campaigns if not c.segments and (judged or not c.holdout_percent)}
        untargeted = certain & applicable
        if not set(codes) <= applicable or not untargeted <= set(codes):
            self._differ("earn", reference, f"campaigns {sorted(untargeted)}", f"{sorted(codes)}")
        yen = basis_yen(self.rules, purchase.total_amount, purchase.tax_amount)
        expected = points_for(self.rules, yen, rank, known)
        if expected != earn.points:
            self._differ("earn", reference, f"{expected} points", f"{earn.points}")

    # ── ledger ─────────────────────────────────────────────────────────────────────────────────────

    def _check_ledger(self) -> None:
        sums = self._cluster_sums()
        self.report.clusters = len(sums)
        for root, (entries, lots) in sums.items():
            if entries != lots:
                self._differ("balance", str(root), f"{lots} points (left in lots)", f"{entries} (sum of entries)")
            if lots < 0:
                self._differ("balance", str(root), "at least 0 points", f"{lots}")
        for lot in repo.overdrawn_lots(self.conn):
            self._differ("lot", f"lot {lot.id}", "at least 0 points left", f"{lot.remaining}")
        for row in repo.unmatched_consumptions(self.conn):
            self._differ("entry", row.source_event, f"{-row.points} points taken from lots", f"{row.used}")

    def _cluster_sums(self) -> dict[UUID, tuple[int, int]]:
        """Per cluster root: (sum of its members' entries, points left in its members' lots)."""
        entries, lots = repo.ledger_totals(self.conn), repo.lot_totals(self.conn)
        roots = roots_through(repo.merge_parents(self.conn), set(entries) | set(lots))
        sums: dict[UUID, list[int]] = defaultdict(lambda: [0, 0])
        for member_id, total in entries.items():
            sums[roots[member_id]][0] += total
        for member_id, left in lots.items():
            sums[roots[member_id]][1] += left
        return {root: (pair[0], pair[1]) for root, pair in sums.items()}

    # ── ranks ──────────────────────────────────────────────────────────────────────────────────────

    def _check_ranks(self) -> None:
        recorded = ranks_repo.recorded_ranks(self.conn)
        roots = repo.active_roots(self.conn)
        [level] = cluster_measures(self.conn, self.rules, None, [Window.ending(self.rules, self.now, open_ended=True)])
        codes = {rank.code for rank in self.rules.ranks.levels}
        for root in roots:
            reference = str(root.id)
            if root.rank_code is not None and root.rank_code not in codes:
                self._differ("rank", reference, "a rank of the rules", root.rank_code)
            if recorded.get(root.id, root.rank_code) != root.rank_code:
                self._differ("rank", reference, f"{recorded[root.id]} (rank history)", f"{root.rank_code}")
            qualified = self.rules.qualified(level.get(root.id, 0))
            if self.rules.position(root.rank_code) < self.rules.position(qualified.code):
                self._differ("rank", reference, f"at least {qualified.code}", f"{root.rank_code}")

    # ── helpers ────────────────────────────────────────────────────────────────────────────────────

    def _purchase_chunks(self) -> Iterable[list[int]]:
        after = 0
        while ids := repo.member_purchase_ids(self.conn, after, _WALK):
            yield ids
            after = ids[-1]

    def _differ(self, subject: str, reference: str, expected: str, found: str | None) -> None:
        self.report.differences.append(Difference(subject, reference, expected, str(found)))


def settle(
    conn: Connection, rules: LoyaltyRules, now: datetime, roots: Iterable[UUID], cause: str
) -> tuple[int, list[DomainEvent]]:
    """Bring each cluster's entries in line with its lots by an adjustment on the root (``<cause>:<root>``).

    After an unmerge, a member may have spent lots that now belong to another cluster: its entries then sum
    to less than its lots hold, and the other cluster's to more. The lots say what is really left.
    """
    clusters = repo.cluster_members(conn, set(roots))
    members = [member_id for cluster in clusters.values() for member_id in cluster]
    entries, lots = repo.ledger_totals(conn, members), repo.lot_totals(conn, members)
    ledger = LedgerWriter({root: root for root in clusters}, now)
    for root, cluster in clusters.items():
        gap = sum(lots.get(m, 0) for m in cluster) - sum(entries.get(m, 0) for m in cluster)
        if gap:
            note = f"settled after {cause.split(':')[0]}"
            ledger.add(Entry(root, "adjust", gap, f"{cause}:{root}", now, rules.version, now, note=note))
    written = len(ledger.entries)
    return written, list(ledger.write(conn))


def raise_ranks(conn: Connection, rules: LoyaltyRules, now: datetime, roots: list[UUID]) -> list[DomainEvent]:
    """Upgrade each cluster whose measure now earns a higher rank than it holds (merges, missed upgrades)."""
    clusters = repo.cluster_members(conn, roots)
    owners = {member_id: root for root, members in clusters.items() for member_id in members}
    [level] = cluster_measures(conn, rules, owners, [Window.ending(rules, now, open_ended=True)])
    states = repo.member_states(conn, roots)
    moves = RankMoves(rules, now, {root: states[root].rank_code for root in roots})
    for root in roots:
        moves.raise_to(root, level.get(root, 0), "recompute")
    return list(moves.write(conn))
