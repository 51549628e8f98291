"""The loyalty program: rules, the points ledger with its lots, earning, reversal, redemption, expiry, ranks.

Start at ``LoyaltyEngine`` (``core/loyalty/engine.py``) and ``load_rules``; docs/loyalty.md is the reference.
"""

from core.loyalty.accounts import Balance, PointsMovement
from core.loyalty.engine import LoyaltyEngine, LoyaltyOutcome
from core.loyalty.recompute import Difference, RecomputeReport
from core.loyalty.rules import SHIPPED_RULES, LoyaltyRules, load_rules, rules_file

__all__ = [
    "SHIPPED_RULES",
    "Balance",
    "Difference",
    "LoyaltyEngine",
    "LoyaltyOutcome",
    "LoyaltyRules",
    "PointsMovement",
    "RecomputeReport",
    "load_rules",
    "rules_file",
]
