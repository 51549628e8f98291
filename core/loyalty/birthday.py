"""The birthday job: in the cluster's birthday month (Asia/Tokyo), the configured benefit, once a year.

The birthday is the cluster root's (a merge keeps the cluster's profile on the root). The benefit is keyed
``birthday:<JST year>:<root id>`` — points through the ledger (a positive ``adjust`` lot), or a coupon of
the configured template, told to the template's ``email_destination`` like every coupon
(``core.loyalty.coupon_messages``) — and a cluster that had one this year under any member (a root that has
since been merged into another) gets none again. The job must run at least once in each month: a month
missed is not caught up. Birthdays are decrypted a partition at a time and never leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Connection

from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.events import DomainEvent
from core.loyalty.coupons import CouponIssuer
from core.loyalty.ledger import Entry, LedgerWriter
from core.loyalty.member_rules import YearlyBenefit
from core.loyalty.periods import jst_date
from core.loyalty.ranks import roots_through
from core.loyalty.rules import LoyaltyRules
from core.store import birthdays as repo
from core.store import loyalty as loyalty_repo
from core.sync.payloads import PayloadSealer

_PARTITION = 5_000


@dataclass(frozen=True)
class BirthdayOutcome:
    """What one run did: birthdays read (roots without this year's benefit), benefits given, events to publish.

    ``messages`` counts the ``coupon.issued`` outbox messages written for the coupons given.
    """

    read: int
    given: int
    events: tuple[DomainEvent, ...]
    messages: int = 0


def birthday_event(year: int, root: UUID) -> str:
    """The source event of a cluster's birthday benefit of one (JST) year."""
    return f"birthday:{year}:{root}"


def give_birthday_benefits(
    conn: Connection, rules: LoyaltyRules, sealer: MemberSealer, now: datetime, outbox: PayloadSealer | None
) -> BirthdayOutcome:
    """Give the benefit to every cluster whose birthday month it is in Japan and that had none this year.

    ``sealer`` opens the birthdays; ``outbox`` seals the coupon messages (``ConfigError`` if one is needed).
    """
    birthday = rules.birthday
    if birthday is None:
        return BirthdayOutcome(0, 0, ())
    today = jst_date(now)
    parents = loyalty_repo.merge_parents(conn)
    done = set(roots_through(parents, repo.benefited_members(conn, f"birthday:{today.year}:")).values())
    read, due = _roots_born_in(conn, sealer, today.month, done)
    events = [birthday_event(today.year, root) for root in due]
    if birthday.benefit == "points":
        given = give_points(conn, rules, birthday, now, due, events, "birthday bonus")
        return BirthdayOutcome(read, len(due), tuple(given))
    messages = give_coupons(conn, rules, birthday, now, due, events, outbox)
    return BirthdayOutcome(read, len(due), (), messages)


def _roots_born_in(conn: Connection, sealer: MemberSealer, month: int, done: set[UUID]) -> tuple[int, list[UUID]]:
    """How many birthdays were read, and the roots born in ``month`` among them.

    Roots in ``done`` (this year's benefit had) are not decrypted: by December eleven in twelve are.
    """
    read, born = 0, []
    for partition in repo.sealed_birthdays(conn, _PARTITION):
        for row in partition:
            if row.id in done:
                continue
            read += 1
            cipher = sealer.cipher_for(WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version))
            sealed = sealer.open_fields(cipher, row.id, {"birthday_ct": row.birthday_ct})["birthday"]
            if sealed and date.fromisoformat(sealed).month == month:
                born.append(row.id)
    return read, born


def give_points(
    conn: Connection,
    rules: LoyaltyRules,
    benefit: YearlyBenefit,
    now: datetime,
    roots: list[UUID],
    source_events: list[str],
    note: str,
) -> list[DomainEvent]:
    """Credit ``benefit.points`` to each root under its source event (the birthday's, an anniversary's)."""
    assert benefit.points is not None  # validated: benefit "points" has points
    ledger = LedgerWriter({root: root for root in roots}, now)
    expires_at = rules.expiry.expires_at(now)
    for root, source_event in zip(roots, source_events, strict=True):
        bonus = Entry(
            root, "adjust", benefit.points, source_event, now, rules.version, now,
            available_at=now, expires_at=expires_at, note=note,
        )  # fmt: skip
        ledger.add(bonus)
    return list(ledger.write(conn))


def give_coupons(
    conn: Connection,
    rules: LoyaltyRules,
    benefit: YearlyBenefit,
    now: datetime,
    roots: list[UUID],
    source_events: list[str],
    outbox: PayloadSealer | None,
) -> int:
    """Issue the benefit's coupon to each root under its source event; returns the outbox messages written."""
    template = rules.coupon_template(benefit.coupon) if benefit.coupon else None
    assert template is not None  # validated: the template exists
    issuer = CouponIssuer(conn, now, outbox=outbox)
    issuer.issue([(root, template, event) for root, event in zip(roots, source_events, strict=True)])
    return issuer.messages
