"""The RFM job: recency, frequency and monetary figures and quintile scores for every cluster root.

- **Recency**: whole days (Asia/Tokyo calendar) from the cluster's last purchase, whenever it was, to today.
- **Frequency**: purchases in the ``[rfm] window_months`` before the run (also split by channel).
- **Monetary**: net yen in the window: totals less refunds; cancelled, voided and fully refunded purchases
  count for nothing, in frequency too.

Scores are quintiles 1 (worst) … 5 (best) among the clusters that ever bought (equal figures share a score);
a cluster that never bought gets a row with ``recency_days`` NULL, zero figures and scores 0, so that no
score condition of a segment takes it for a poor customer. The figures belong to the cluster: purchases of
merged members count on their root. ``member_scores`` is rewritten in full, in one set-based statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from core.loyalty.earning import VOID_STATUSES
from core.loyalty.periods import jst_date, months_before
from core.loyalty.rules import LoyaltyRules
from core.store import rfm as repo


@dataclass(frozen=True)
class RfmOutcome:
    """What one run scored: cluster roots, and how many of them ever bought."""

    members: int
    buyers: int


def score_members(conn: Connection, rules: LoyaltyRules, now: datetime) -> RfmOutcome:
    """Rewrite every cluster root's RFM row as of ``now``."""
    since = months_before(now, rules.rfm.window_months)
    members, buyers = repo.replace_scores(conn, now, jst_date(now), since, void_statuses=VOID_STATUSES)
    return RfmOutcome(members, buyers)
