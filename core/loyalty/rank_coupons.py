"""Rank-upgrade coupons: a cluster that moves up into a rank naming ``upgrade_coupon`` is issued that coupon.

Keyed once per cluster, rank and evaluation period: the source event ``rank-upgrade:<root>:<rank>:<period
start>`` (the JST date the ``ranks.evaluation_period`` containing the upgrade began). Re-delivering the
purchase, recomputing or a second upgrade into the same rank in the same period issues nothing more; a cluster
that is downgraded when a period ends and climbs back in a later period is issued the coupon again. Only the
rank reached is rewarded (a purchase lifting a cluster from regular straight to gold issues gold's coupon),
and downgrades issue nothing. The coupon's ``coupon.issued`` message goes to its template's
``email_destination`` like every coupon's (``core.loyalty.coupon_messages``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from core.events import DomainEvent, RankChanged
from core.loyalty.coupons import CouponIssuer
from core.loyalty.offer_rules import CouponTemplate
from core.loyalty.periods import jst_date, period_start
from core.loyalty.rules import LoyaltyRules
from core.sync.payloads import PayloadSealer

__all__ = ["UpgradeCoupons", "issue_upgrade_coupons", "upgrade_event"]


@dataclass(frozen=True)
class UpgradeCoupons:
    """What one call issued: new coupons, and the outbox messages telling of them."""

    issued: int = 0
    messages: int = 0


def upgrade_event(root: UUID, rank_code: str, period_began: datetime) -> str:
    """The source event of the coupon for the cluster's upgrade into a rank in the period begun then."""
    return f"rank-upgrade:{root}:{rank_code}:{jst_date(period_began).isoformat()}"


def issue_upgrade_coupons(
    conn: Connection, rules: LoyaltyRules, now: datetime, outbox: PayloadSealer | None, events: Iterable[DomainEvent]
) -> UpgradeCoupons:
    """Issue the coupon of every rank some cluster moved up into (``RankChanged`` among ``events``)."""
    wanted: dict[str, tuple[UUID, CouponTemplate, str]] = {}  # one request per source event
    for event in events:
        if not isinstance(event, RankChanged) or rules.position(event.to_rank) <= rules.position(event.from_rank):
            continue
        template = rules.coupon_template(rules.rank(event.to_rank).upgrade_coupon or "")
        if template is not None:
            began = period_start(event.occurred_at, rules.ranks.evaluation_period)
            source_event = upgrade_event(event.member_id, event.to_rank, began)
            wanted[source_event] = (event.member_id, template, source_event)
    if not wanted:
        return UpgradeCoupons()
    issuer = CouponIssuer(conn, now, outbox=outbox)
    issued = issuer.issue(list(wanted.values()))
    return UpgradeCoupons(sum(coupon.new for coupon in issued), issuer.messages)
