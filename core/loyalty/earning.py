"""What a purchase is worth in points and in rank spend, and what its refunds take back: pure arithmetic.

Points are ``floor(yen × points_per_yen × rank multiplier × every campaign multiplier)`` in exact decimal
arithmetic. A refund takes back points in proportion to the yen refunded: after refunds of ``R`` yen on a
purchase of ``T`` yen that earned ``E`` points, the purchase is worth ``floor(E × (T − R) / T)`` points, so
the reversals of several partial refunds add up to the same total in whatever order they arrive, and a
cancellation takes back whatever is left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.loyalty.rules import Campaign, LoyaltyRules, Rank

VOID_STATUSES = frozenset({"cancelled", "refunded"})
"""Purchase statuses that mean nothing of the purchase stands, whatever adjustments the source sent."""


@dataclass(frozen=True)
class Refunds:
    """What has been taken back from a purchase so far: yen refunded, and whether it was cancelled."""

    yen: int = 0
    cancelled: bool = False

    def plus(self, kind: str, amount: int) -> Refunds:
        """These refunds and one more adjustment (``refund`` of ``amount`` yen, or ``cancel``)."""
        if kind == "refund":
            return Refunds(self.yen + amount, self.cancelled)
        return Refunds(self.yen, True)


def basis_yen(rules: LoyaltyRules, total_amount: int, tax_amount: int) -> int:
    """The yen a purchase earns points on (never negative)."""
    yen = total_amount - tax_amount if rules.earning.basis == "excluding_tax" else total_amount
    return max(yen, 0)


def points_for(rules: LoyaltyRules, yen: int, rank: Rank, campaigns: Iterable[Campaign]) -> int:
    """Points earned on ``yen`` at ``rank`` with ``campaigns``, rounded down."""
    value = Decimal(yen) * rules.earning.points_per_yen * rank.multiplier
    for campaign in campaigns:
        value *= campaign.multiplier
    return math.floor(value)


def points_standing(earned: int, total_amount: int, refunds: Refunds) -> int:
    """Points of a purchase that still stand after ``refunds``."""
    if refunds.cancelled or total_amount <= 0:
        return 0
    return earned * max(total_amount - refunds.yen, 0) // total_amount


def net_spend(basis: int, total_amount: int, status: str, refunds: Refunds) -> int:
    """Yen of a purchase that count towards a spend rank: its basis less what was refunded, in proportion."""
    if status in VOID_STATUSES or refunds.cancelled or total_amount <= 0:
        return 0
    return basis * max(total_amount - refunds.yen, 0) // total_amount
