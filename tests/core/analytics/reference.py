"""Every report figure computed the straightforward way, in Python, from the rows ``Seeded`` wrote."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from core.analytics.months import Month
from core.loyalty.holdout import in_holdout
from core.loyalty.periods import months_before
from tests.core.analytics.seeded import Seeded

LOWEST = "regular"


class Reference:
    """Plain loops over the seeded rows."""

    def __init__(self, data: Seeded) -> None:
        self.data = data
        self.members = {m["id"]: m for m in data.members}
        refunds: dict[int, int] = defaultdict(int)
        self.cancelled: set[int] = set()
        for a in data.adjustments:
            if a["kind"] == "refund":
                refunds[a["purchase_id"]] += a["amount"]
            else:
                self.cancelled.add(a["purchase_id"])
        self.refunds = refunds

    def root(self, member_id: UUID | None) -> UUID | None:
        """The cluster root, or ``None`` for a guest or a cluster whose root is erased."""
        if member_id is None:
            return None
        member = self.members[member_id]
        while member["merged_into"] is not None:
            member = self.members[member["merged_into"]]
        return None if member["status"] == "erased" else member["id"]

    def counts(self, p: dict[str, Any]) -> bool:
        return (
            p["status"] not in ("cancelled", "refunded")
            and p["id"] not in self.cancelled
            and p["total_amount"] > self.refunds[p["id"]]
        )

    def net(self, p: dict[str, Any]) -> int:
        return p["total_amount"] - self.refunds[p["id"]]

    def rank_at(self, root: UUID, boundary: datetime) -> str:
        changes = [r for r in self.data.ranks if r["member_id"] == root and r["changed_at"] < boundary]
        return max(changes, key=lambda r: (r["changed_at"], r["id"]))["to_rank"] if changes else LOWEST

    def roots_alive(self, until: datetime) -> list[dict[str, Any]]:
        return [
            m for m in self.data.members
            if m["merged_into"] is None and m["status"] != "erased" and m["created_at"] < until
        ]  # fmt: skip

    def counted(self) -> list[tuple[UUID, dict[str, Any]]]:
        """(root, purchase) of every counted purchase of a live cluster."""
        out = []
        for p in self.data.purchases:
            root = self.root(p["member_id"])
            if root is not None and self.counts(p):
                out.append((root, p))
        return out

    # ── reports ──

    def repeat_sales(self, month: Month) -> set[tuple[Any, ...]]:
        first: dict[UUID, datetime] = {}
        inside: dict[tuple[UUID, str], list[int]] = defaultdict(list)
        for root, p in self.counted():
            if p["purchased_at"] >= month.end:
                continue
            first[root] = min(first.get(root, p["purchased_at"]), p["purchased_at"])
            if p["purchased_at"] >= month.start:
                inside[(root, p["channel"])].append(self.net(p))
        rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        per_root: dict[UUID, list[int]] = defaultdict(lambda: [0, 0])
        for (root, channel), nets in inside.items():
            row = rows[(self.rank_at(root, month.end), channel)]
            returning = first[root] < month.start
            row[0] += 1
            row[1] += int(returning)
            row[2] += len(nets)
            row[3] += sum(nets)
            per_root[root][0] += len(nets)
            per_root[root][1] += sum(nets)
        for root, (orders, sales) in per_root.items():
            row = rows[(self.rank_at(root, month.end), "all")]
            row[0] += 1
            row[1] += int(first[root] < month.start)
            row[2] += orders
            row[3] += sales
        return {(rank, channel, *figures) for (rank, channel), figures in rows.items()}

    def rank_migration(self, month: Month, months: int) -> set[tuple[Any, ...]]:
        before = month.shifted(-months).end
        pairs = Counter()
        for m in self.roots_alive(month.end):
            source = "new" if m["created_at"] >= before else self.rank_at(m["id"], before)
            pairs[(source, self.rank_at(m["id"], month.end))] += 1
        return {(f, t, n) for (f, t), n in pairs.items()}

    def survey_scores(self, month: Month) -> set[tuple[Any, ...]]:
        rows: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * 6)
        for s in self.data.surveys:
            root = self.root(s["member_id"])
            if root is None or not month.start <= s["answered_at"] < month.end:
                continue
            before = [p for p in self.data.purchases
                      if p["member_id"] == s["member_id"] and p["purchased_at"] <= s["answered_at"]]  # fmt: skip
            last = max(before, key=lambda p: (p["purchased_at"], p["id"])) if before else None
            channel = last["channel"] if last else "none"
            store = (last["store_code"] or last["channel"]) if last else "none"
            row = rows[(self.rank_at(root, month.end), channel, store)]
            rating = _whole(s["answers"].get("satisfaction"), 1, 5)
            recommend = _whole(s["answers"].get("recommend"), 0, 10)
            row[0] += 1
            if rating is not None:
                row[1] += 1
                row[2] += rating
            if recommend is not None:
                row[3] += 1
                row[4] += int(recommend >= 9)
                row[5] += int(recommend <= 6)
        return {(*key, *figures) for key, figures in rows.items()}

    def points_liability(self, month: Month, now: datetime, yen_per_point: int) -> set[tuple[Any, ...]]:
        moment = min(now, month.end)
        used: dict[int, int] = defaultdict(int)
        entries = {e["id"]: e for e in self.data.ledger}
        for c in self.data.consumptions:
            if entries[c["entry_id"]]["occurred_at"] < moment:
                used[c["lot_id"]] += c["points"]
        rows: dict[tuple[str, str, str], int] = defaultdict(int)
        for lot in self.data.ledger:
            root = self.root(lot["member_id"])
            if root is None or lot["available_at"] is None or lot["points"] <= 0 or lot["occurred_at"] >= moment:
                continue
            if lot["expires_at"] is not None and lot["expires_at"] <= moment:
                continue
            left = lot["points"] - used[lot["id"]]
            if left <= 0:
                continue
            state = "pending" if lot["available_at"] > moment else "available"
            rows[(self.rank_at(root, moment), state, _bucket(lot["expires_at"], moment))] += left
        return {(*key, points, points * yen_per_point) for key, points in rows.items()}

    def campaign_uplift(self, month: Month, now: datetime, campaign: Any) -> set[tuple[Any, ...]]:
        start, end = max(campaign.starts_at, month.start), min(campaign.ends_at, month.end, now)
        eligible = [
            m["id"] for m in self.roots_alive(end)
            if not campaign.ranks or self.rank_at(m["id"], start) in campaign.ranks
        ]  # fmt: skip
        groups = {root: "holdout" if in_holdout(campaign.code, root, campaign.holdout_percent) else "treated"
                  for root in eligible}  # fmt: skip
        figures: dict[str, list[int]] = {"treated": [0, 0, 0, 0], "holdout": [0, 0, 0, 0]}
        for root in eligible:
            figures[groups[root]][0] += 1
        bought: dict[UUID, list[int]] = defaultdict(lambda: [0, 0])
        for root, p in self.counted():
            channel_ok = not campaign.channels or p["channel"] in campaign.channels
            if root in groups and channel_ok and start <= p["purchased_at"] < end:
                bought[root][0] += 1
                bought[root][1] += self.net(p)
        for root, (orders, sales) in bought.items():
            row = figures[groups[root]]
            row[1] += 1
            row[2] += orders
            row[3] += sales
        return {(campaign.code, group, *row) for group, row in figures.items()}

    def growth_churn(self, month: Month, churn_days: int) -> set[tuple[Any, ...]]:
        window = timedelta(days=churn_days)
        last_end: dict[UUID, datetime] = {}
        last_start: dict[UUID, datetime] = {}
        for root, p in self.counted():
            at = p["purchased_at"]
            if at < month.end:
                last_end[root] = max(last_end.get(root, at), at)
            if at < month.start:
                last_start[root] = max(last_start.get(root, at), at)
        rows: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
        for m in self.roots_alive(month.end):
            row = rows[self.rank_at(m["id"], month.end)]
            end, start = last_end.get(m["id"]), last_start.get(m["id"])
            churned = end is not None and end < month.end - window
            row[0] += 1
            row[1] += int(m["created_at"] >= month.start)
            row[2] += int(end is not None)
            row[3] += int(end is not None and not churned)
            row[4] += int(churned)
            row[5] += int(churned and not (start is not None and start < month.start - window))
        return {(rank, *figures) for rank, figures in rows.items()}


def _whole(answer: str | None, lowest: int, highest: int) -> int | None:
    return int(answer) if answer in {str(n) for n in range(lowest, highest + 1)} else None


def _bucket(expires: datetime | None, moment: datetime) -> str:
    if expires is None:
        return "never"
    for k in (1, 2, 3):
        if expires < months_before(moment, -k):
            return str(k)
    return "later"
