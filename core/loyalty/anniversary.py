"""The anniversary job: in the month a cluster joined (Asia/Tokyo), the configured benefit, once a year.

The join date is the earliest ``created_at`` of any member of the cluster — when the hub first knew any of
them as a member (the systems it imports from report no membership date of their own). A merge therefore
keeps the oldest membership, whichever member became root. The benefit is given from the first anniversary
on (never in the month of joining itself), in the JST calendar month of the join date: a member who joined on
29 February has the anniversary in February every year, leap or not. Like the birthday benefit it is keyed
``anniversary:<JST year>:<root id>`` — points through the ledger or a coupon of the configured template — and
a cluster that had one this year under any member (a root since merged into another) gets none again. The
job must run at least once in each month: a month missed is not caught up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Connection

from core.events import DomainEvent
from core.loyalty.birthday import give_coupons, give_points
from core.loyalty.periods import jst_date
from core.loyalty.ranks import roots_through
from core.loyalty.rules import LoyaltyRules
from core.store import anniversaries as repo
from core.store import loyalty as loyalty_repo
from core.sync.payloads import PayloadSealer

__all__ = ["AnniversaryOutcome", "anniversary_event", "give_anniversary_benefits", "is_anniversary_month"]


@dataclass(frozen=True)
class AnniversaryOutcome:
    """What one run did: clusters whose anniversary month it is, benefits given, outbox messages, events."""

    due: int
    given: int
    events: tuple[DomainEvent, ...]
    messages: int = 0


def anniversary_event(year: int, root: UUID) -> str:
    """The source event of a cluster's anniversary benefit of one (JST) year."""
    return f"anniversary:{year}:{root}"


def is_anniversary_month(joined: date, today: date) -> bool:
    """Whether ``today`` falls in an anniversary month of a membership begun on ``joined`` (both JST days)."""
    return joined.month == today.month and joined.year < today.year


def give_anniversary_benefits(
    conn: Connection, rules: LoyaltyRules, now: datetime, outbox: PayloadSealer | None
) -> AnniversaryOutcome:
    """Give the benefit to every cluster in its anniversary month (Japan) that had none this year.

    ``outbox`` seals the coupon messages of a coupon benefit (``ConfigError`` if one is needed and missing).
    """
    anniversary = rules.anniversary
    if anniversary is None:
        return AnniversaryOutcome(0, 0, ())
    today = jst_date(now)
    anniversaries = [_uuid(row.root) for row in repo.cluster_join_times(conn) if _due(row.joined_at, today)]
    done = _rewarded(conn, today.year, anniversaries)
    due = sorted(root for root in anniversaries if root not in done)
    events = [anniversary_event(today.year, root) for root in due]
    if anniversary.benefit == "points":
        given = give_points(conn, rules, anniversary, now, due, events, "anniversary bonus")
        return AnniversaryOutcome(len(anniversaries), len(due), tuple(given))
    messages = give_coupons(conn, rules, anniversary, now, due, events, outbox)
    return AnniversaryOutcome(len(anniversaries), len(due), (), messages)


def _rewarded(conn: Connection, year: int, roots: list[UUID]) -> set[UUID]:
    """The roots among ``roots`` whose cluster had this year's benefit under any of its members.

    Looked up by exact source event, an index hit each, rather than by prefix over the whole ledger; every
    member of these clusters is asked, since a member merged in later may hold its own year's benefit.
    """
    wanted = set(roots)
    parents = loyalty_repo.merge_parents(conn)
    merged = {member: root for member, root in roots_through(parents, parents).items() if root in wanted}
    owners = {anniversary_event(year, root): root for root in roots}
    owners |= {anniversary_event(year, member): root for member, root in merged.items()}
    return {owners[event] for event in repo.given_events(conn, list(owners))}


def _due(joined_at: datetime, today: date) -> bool:
    return is_anniversary_month(jst_date(joined_at), today)


def _uuid(raw: object) -> UUID:
    """A member id as the store read it (hex text on SQLite, ``UUID`` on PostgreSQL) as a ``UUID``."""
    return raw if isinstance(raw, UUID) else UUID(str(raw))
