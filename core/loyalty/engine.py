"""``LoyaltyEngine``: the one entry point of the loyalty program, working in the caller's transaction.

Every method takes a connection with an open write transaction and returns the domain events to publish once
that transaction commits (``core.plugins.manager.publish_events``). ``apply_purchases`` is meant for the
ingest sink, in the transaction that stores the purchases; the jobs are for the scheduler and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from core.crypto.sealing import MemberSealer
from core.events import DomainEvent, RankChanged
from core.loyalty.accounts import Balance, PointsAccount, PointsMovement
from core.loyalty.birthday import BirthdayOutcome, give_birthday_benefits
from core.loyalty.coupons import CouponUses, HeldCoupons, cluster_coupons
from core.loyalty.expiry_notices import send_expiry_notices
from core.loyalty.jobs import end_rank_period, lapse_expired_lots
from core.loyalty.purchases import PurchaseBatch
from core.loyalty.rank_coupons import issue_upgrade_coupons
from core.loyalty.rank_messages import send_rank_changes
from core.loyalty.recompute import Recompute, RecomputeReport, raise_ranks, settle
from core.loyalty.rfm import RfmOutcome, score_members
from core.loyalty.rule_change import RuleChangeReport, apply_rules
from core.loyalty.rules import LoyaltyRules
from core.loyalty.segments import SegmentsOutcome, recompute_segments
from core.loyalty.status_messages import StatusOutcome, push_member_status
from core.loyalty.surveys import SurveyBatch
from core.store import identity as identity_repo
from core.store import loyalty as repo
from core.sync.payloads import PayloadSealer

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class LoyaltyOutcome:
    """What one call wrote: ledger entries, rank changes, and the events to publish after the commit.

    Coupons: issued, uses redeemed, refused and released (given back by a cancellation); ``messages`` counts
    outbox messages written (coupon emails, call-center notifications, rank changes).
    """

    entries: int
    rank_changes: int
    events: tuple[DomainEvent, ...]
    coupons_issued: int = 0
    coupon_uses: int = 0
    coupon_refusals: int = 0
    coupon_releases: int = 0
    messages: int = 0


class LoyaltyEngine:
    """Points, ranks and coupons under one set of rules; ``clock`` gives the current time (aware).

    ``outbox`` seals the messages the rules send (coupon emails, call-center notifications, rank changes to
    ``ranks.destinations``, written with the changes); an engine without one refuses (``ConfigError``) to apply
    a rule that sends a message.
    """

    def __init__(self, rules: LoyaltyRules, clock: Clock, *, outbox: PayloadSealer | None = None) -> None:
        self.rules = rules
        self.clock = clock
        self.outbox = outbox

    def apply_purchases(self, conn: Connection, purchase_ids: Iterable[int]) -> LoyaltyOutcome:
        """Earn, reverse and upgrade for stored purchases (new, re-sent, refunded or cancelled); idempotent.

        The coupon codes they carry are redeemed, refused or, for a purchase cancelled since, released.
        """
        ids = list(purchase_ids)
        now = self.clock()
        written, events = PurchaseBatch(conn, self.rules, now).apply(ids)
        codes = CouponUses(conn, now).apply(ids)
        return replace(
            self._outcome(conn, now, written, events),
            coupon_uses=codes.redeemed,
            coupon_refusals=codes.refused_count,
            coupon_releases=codes.released,
        )

    def apply_survey_responses(
        self, conn: Connection, survey_response_ids: Iterable[int], members: MemberSealer | None = None
    ) -> LoyaltyOutcome:
        """Act on the survey rules stored responses meet: coupons, points, call-center notifications; idempotent.

        ``members`` opens member numbers for the call-center notices (a helpdesk that does not know the member
        yet files the ticket under the number); without it they carry none.
        """
        now = self.clock()
        done = SurveyBatch(conn, self.rules, now, self.outbox, members).apply(survey_response_ids)
        outcome = self._outcome(conn, now, done.entries, done.events)
        issued = outcome.coupons_issued + done.coupons
        return replace(outcome, coupons_issued=issued, messages=outcome.messages + done.messages)

    def coupons(self, conn: Connection, member_id: UUID) -> HeldCoupons:
        """The coupons of the member's cluster now, newest first, with their uses and status."""
        return cluster_coupons(conn, member_id, self.clock())

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
        return self._outcome(conn, now, written, events)

    def run_rank_period_end(self, conn: Connection, now: datetime) -> LoyaltyOutcome:
        """Apply the downgrades (and any upgrades) due at the end of the rank period before ``now``, once."""
        _, events = end_rank_period(conn, self.rules, now)
        return self._outcome(conn, now, 0, events)

    def run_birthday(self, conn: Connection, now: datetime, sealer: MemberSealer) -> BirthdayOutcome:
        """Give the birthday benefit to clusters whose birthday month it is in Japan, once a year each.

        ``sealer`` opens the sealed birthdays (the hub's member sealer); a coupon benefit is told to its
        template's ``email_destination`` through the engine's outbox.
        """
        return give_birthday_benefits(conn, self.rules, sealer, now, self.outbox)

    def run_rfm(self, conn: Connection, now: datetime) -> RfmOutcome:
        """Rewrite every cluster root's recency, frequency and monetary figures and quintile scores."""
        return score_members(conn, self.rules, now)

    def run_segments(self, conn: Connection, now: datetime) -> SegmentsOutcome:
        """Recompute segment membership from the last RFM scores; changes go to the outbox and as events."""
        return recompute_segments(conn, self.rules, now, self.outbox)

    def run_expiry_notices(self, conn: Connection, now: datetime, sealer: MemberSealer) -> int:
        """Tell ``[expiry_notice]`` destinations of points expiring soon, once per expiry; returns messages written."""
        return send_expiry_notices(conn, self.rules, now, self.outbox, sealer)

    def run_member_status(self, conn: Connection, now: datetime, sealer: MemberSealer) -> StatusOutcome:
        """Tell ``[member_status]`` destinations every cluster's changed rank, points and segments."""
        return push_member_status(conn, self.rules, now, self.outbox, sealer)

    def apply_rules(self, conn: Connection, new: LoyaltyRules) -> RuleChangeReport:
        """Put new rules in force (nothing retroactive; ranks the new ladder lacks are re-judged); idempotent.

        The rank changes go to the new rules' ``ranks.destinations``, upgrades issue their coupons. The engine
        keeps its own rules: build a new engine on ``new`` for what follows.
        """
        now = self.clock()
        report = apply_rules(conn, self.rules, new, now)
        send_rank_changes(conn, new, self.outbox, report.rank_changes, now)
        issue_upgrade_coupons(conn, new, now, self.outbox, report.rank_changes)
        return report

    def recompute(self, conn: Connection, *, verify: bool) -> RecomputeReport:
        """Rebuild balances and ranks from the history and report differences; repair first unless ``verify``."""
        now = self.clock()
        report = Recompute(conn, self.rules, now).run(verify=verify)
        send_rank_changes(conn, self.rules, self.outbox, report.events, now)
        issue_upgrade_coupons(conn, self.rules, now, self.outbox, report.events)
        return report

    def recompute_clusters(self, conn: Connection, member_ids: Iterable[UUID], *, cause: str) -> LoyaltyOutcome:
        """After a merge or unmerge of these members: settle their clusters' points and apply due upgrades.

        ``cause`` names the identity change once and for all (e.g. ``unmerge:12``): settlement entries are keyed
        ``<cause>:<root>``.
        """
        now = self.clock()
        roots = sorted(set(identity_repo.roots(conn, member_ids).values()))
        written, events = settle(conn, self.rules, now, roots, cause)
        return self._outcome(conn, now, written, [*events, *raise_ranks(conn, self.rules, now, roots)])

    def _outcome(self, conn: Connection, now: datetime, written: int, events: list[DomainEvent]) -> LoyaltyOutcome:
        """The outcome of a call: its rank changes told to ``ranks.destinations`` and its upgrades' coupons issued.

        Both in the caller's transaction.
        """
        messages = send_rank_changes(conn, self.rules, self.outbox, events, now)
        coupons = issue_upgrade_coupons(conn, self.rules, now, self.outbox, events)
        changes = sum(isinstance(event, RankChanged) for event in events)
        return LoyaltyOutcome(
            written, changes, tuple(events), coupons_issued=coupons.issued, messages=messages + coupons.messages
        )
