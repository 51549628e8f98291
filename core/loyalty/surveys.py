"""Survey rules applied to stored survey responses: coupons, points, and call-center notifications.

Each (response, rule) pair that matches acts once, whatever happens to the response later: its source event
``survey:<source>:<response external id>:<rule code>`` keys the coupon (``coupons.source_event``) and the
points (an ``adjust`` lot on the ledger); the coupon's ``coupon.issued`` message is written as it is issued
(``core.loyalty.coupon_messages``), the call-center notice is keyed by the response's id. Re-syncing a
response, or a newer version of it, never acts twice; a newer version that now matches a rule it did not
match before acts then. Responses of guests and of erased members, and responses answered more than
``surveys.max_age_days`` before they are applied, trigger nothing.

Outbox payloads name members by id and by their customer id in the destination system (the destination
holds the address), never by name or address; they are sealed in the outbox and never logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.crypto.sealing import MemberSealer
from core.errors import ConfigError
from core.events import DomainEvent
from core.loyalty.coupon_messages import customer_ids
from core.loyalty.coupons import CouponIssuer, IssuedCoupon
from core.loyalty.ledger import Entry, LedgerWriter
from core.loyalty.offer_rules import CouponTemplate, SurveyRule
from core.loyalty.rules import LoyaltyRules
from core.loyalty.status_messages import member_numbers
from core.store import coupons as repo
from core.store import identity as identity_repo
from core.store import loyalty as loyalty_repo
from core.sync import outbox
from core.sync.contract import CALL_CENTER_MESSAGE
from core.sync.payloads import PayloadSealer


def survey_event(source: str, external_id: str, rule_code: str) -> str:
    """The source event of what one rule does for one survey response."""
    return f"survey:{source}:{external_id}:{rule_code}"


@dataclass(frozen=True)
class Trigger:
    """A rule a stored response meets, and the cluster root it acts for."""

    response: Row[Any]
    rule: SurveyRule
    root: UUID

    @property
    def source_event(self) -> str:
        """What keys this rule's actions for this response."""
        return survey_event(self.response.source, self.response.external_id, self.rule.code)


@dataclass(frozen=True)
class SurveyResult:
    """What one call wrote: ledger entries, coupons issued, outbox messages, and the events."""

    entries: int
    coupons: int
    messages: int
    events: list[DomainEvent]


class SurveyBatch:
    """One call of ``LoyaltyEngine.apply_survey_responses``."""

    def __init__(
        self, conn: Connection, rules: LoyaltyRules, now: datetime, sealer: PayloadSealer | None,
        members: MemberSealer | None = None,
    ) -> None:  # fmt: skip
        self.conn = conn
        self.rules = rules
        self.now = now
        self.sealer = sealer
        self.members = members

    def apply(self, response_ids: Iterable[int]) -> SurveyResult:
        """Act on the rules the responses meet; only what is missing is written."""
        triggers = self._triggers(repo.responses_with_members(self.conn, response_ids))
        entries, events = self._award_points([t for t in triggers if t.rule.award_points])
        wanted = [t for t in triggers if t.rule.issue_coupon]
        issuer = CouponIssuer(self.conn, self.now, outbox=self.sealer)
        issued = issuer.issue([(t.root, self._template(t.rule), t.source_event) for t in wanted])
        coupons = dict(zip((t.source_event for t in wanted), issued, strict=True))
        messages = issuer.messages + self._call_center([t for t in triggers if t.rule.notify_call_center], coupons)
        return SurveyResult(entries, sum(c.new for c in issued), messages, events)

    def _triggers(self, responses: Sequence[Row[Any]]) -> list[Trigger]:
        """Each rule each response meets, for members not erased, answered recently enough."""
        oldest = self.now - timedelta(days=self.rules.surveys.max_age_days)
        recent = [r for r in responses if r.status != "erased" and r.answered_at >= oldest]
        roots = identity_repo.roots(self.conn, {r.member_id for r in recent})
        states = loyalty_repo.member_states(self.conn, set(roots.values()))
        return [
            Trigger(response, rule, roots[response.member_id])
            for response in recent
            if states[roots[response.member_id]].status != "erased"
            for rule in self.rules.surveys.rules
            if rule.survey_code == response.survey_code and rule.when.matches(response.score, response.answers or {})
        ]

    def _award_points(self, triggers: Sequence[Trigger]) -> tuple[int, list[DomainEvent]]:
        """A lot of ``award_points`` on each root, spendable at once, unless its source event is recorded."""
        recorded = loyalty_repo.entries_by_source_event(self.conn, [t.source_event for t in triggers])
        ledger = LedgerWriter({t.root: t.root for t in triggers}, self.now)
        for t in triggers:
            if t.source_event in recorded:
                continue
            credit = Entry(
                t.root, "adjust", t.rule.award_points or 0, t.source_event, t.response.answered_at,
                self.rules.version, self.now, available_at=self.now, expires_at=self.rules.expiry.expires_at(self.now),
                note=f"survey {t.response.survey_code}: {t.rule.code}",
            )  # fmt: skip
            ledger.add(credit)
        written = len(ledger.entries)
        return written, list(ledger.write(self.conn))

    def _call_center(self, triggers: Sequence[Trigger], coupons: dict[str, IssuedCoupon]) -> int:
        """A ``survey.call_center`` message for every triggered rule that asks for one."""
        destination = self.rules.surveys.call_center_destination
        numbers = member_numbers(self.conn, self.members, {t.root for t in triggers}) if self.members else {}
        sent = 0
        for t in triggers:
            assert destination is not None  # the rules refuse a notifying rule without a destination
            coupon = coupons.get(t.source_event)
            payload = {
                **self._addressee(t.root, destination),
                "member_number": numbers.get(t.root.hex),
                "rule": t.rule.code,
                "survey_code": t.response.survey_code,
                "response": {"source": t.response.source, "external_id": t.response.external_id},
                "answered_at": t.response.answered_at.isoformat(),
                "question": t.rule.when.question,
                "answer": self._answer(t),
                "coupon_code": coupon.code if coupon else None,
            }
            key = f"survey-response:{t.response.id}:{t.rule.code}:call-center"
            sent += self._enqueue(destination, CALL_CENTER_MESSAGE, key, payload, t.root)
        return sent

    def _answer(self, t: Trigger) -> str | None:
        """The answer that met a comparison (a score or a choice); free answers (``answered``) are not copied."""
        question = t.rule.when.question
        if t.rule.when.op in ("completed", "answered") or question is None:
            return None
        if question == "score":
            return str(t.response.score)
        return str((t.response.answers or {}).get(question))

    def _addressee(self, member_id: UUID, destination: str) -> dict[str, Any]:
        """The member's id and their customer id in the destination (any member of the cluster), if linked."""
        customer = customer_ids(self.conn, [member_id], destination)[member_id]
        return {"member_id": str(member_id), "customer_id": customer}

    def _enqueue(self, destination: str, kind: str, key: str, payload: dict[str, Any], member_id: UUID) -> int:
        if self.sealer is None:
            raise ConfigError(
                f"the loyalty rules send {kind} messages to {destination!r}, but this loyalty engine has no outbox"
            )
        added = outbox.enqueue(
            self.conn, self.sealer, destination=destination, kind=kind, idempotency_key=key, payload=payload,
            now=self.now, member_id=member_id,
        )  # fmt: skip
        return int(added)

    def _template(self, rule: SurveyRule) -> CouponTemplate:
        template = self.rules.coupon_template(rule.issue_coupon or "")
        assert template is not None  # the rules refuse a rule naming an unknown template
        return template
