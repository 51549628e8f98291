"""Survey rules issue coupons and points once; purchases redeem coupon codes, and a bad code never refuses one.

Real SQLite files and the real PostgreSQL, real keys, the real ingest sink and outbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.crypto.key_providers import KeyFileProvider
from core.errors import ConfigError
from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.loyalty import LoyaltyEngine, LoyaltyOutcome
from core.members.audit import Actor
from core.members.keys import load_verified_ring
from core.members.numbers import looks_like_member_number
from core.records import Purchase, SurveyResponse
from core.store import coupons as coupons_repo
from core.store import models
from core.store import records as records_repo
from core.store.database import read_only
from core.sync.payloads import PayloadSealer
from tests.core.loyalty.conftest import T0, LoyaltyKit, make_rules, purchase

TEMPLATES = [
    {
        "code": "apology-500", "kind": "apology", "name_ja": "お詫びクーポン", "name_en": "Apology coupon",
        "prefix": "OWABI", "value_type": "amount", "value": 500, "valid_days": 30, "email_destination": "mailer",
    },
    {
        "code": "thanks-10", "kind": "thanks", "name_ja": "御礼クーポン", "name_en": "Thank-you coupon",
        "value_type": "percent", "value": 10, "valid_days": 60, "max_uses": 3,
    },
]  # fmt: skip
SURVEYS = {
    "call_center_destination": "helpdesk",
    "rules": [
        {
            "code": "low", "survey_code": "post-purchase",
            "when": {"question": "satisfaction", "op": "<=", "value": "2"},
            "issue_coupon": "apology-500", "notify_call_center": True,
        },
        {"code": "done", "survey_code": "post-purchase", "when": {"op": "completed"}, "award_points": 100},
        {"code": "fan", "survey_code": "post-purchase", "when": {"question": "score", "op": ">=", "value": "9"},
         "issue_coupon": "thanks-10"},
    ],
}  # fmt: skip


@dataclass
class CouponKit:
    """The loyalty kit with survey rules and coupon templates, and an outbox."""

    kit: LoyaltyKit
    sealer: PayloadSealer

    def answer(
        self, external_id: str, customer: str, at: datetime = T0, *, version: int = 0, **answers: str
    ) -> LoyaltyOutcome:
        response = SurveyResponse(
            source="survey", external_id=external_id, source_updated_at=at + timedelta(seconds=version),
            customer_external_id=customer, survey_code="post-purchase", answers=answers,
            score=int(answers.pop("score")) if "score" in answers else None, answered_at=at,
        )  # fmt: skip
        with self.kit.engine.begin() as conn:
            self.kit.sink.apply(conn, [response])
            stored = records_repo.stored_survey_responses(conn, [("survey", external_id)])
            ids = [row.id for row in stored.values()]
            return self.kit.loyalty.apply_survey_responses(conn, ids, self.kit.directory.sealer)

    def buy(self, external_id: str, customer: str, *codes: str, at: datetime = T0, **changes: Any) -> LoyaltyOutcome:
        record = purchase(external_id, customer, 3_000, at, **changes)
        return self.kit.ingest([record.model_copy(update={"coupon_codes": codes})])

    def coupons(self, customer: str, source: str = "survey") -> list[Any]:
        with read_only(self.kit.engine).connect() as conn:
            return coupons_repo.member_coupons(conn, [self.kit.member(customer, source)])

    def code_uses(self, external_id: str) -> list[Any]:
        table = models.CouponRedemption
        query = (
            select(table.code, table.status, table.reason, table.coupon_id, table.redeemed_at)
            .join(models.Purchase, models.Purchase.id == table.purchase_id)
            .where(models.Purchase.external_id == external_id)
        )
        with read_only(self.kit.engine).connect() as conn:
            return list(conn.execute(query).all())

    def outbox(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(destination, kind, opened payload) of every outbox message, oldest first."""
        table = models.OutboxMessage
        with read_only(self.kit.engine).connect() as conn:
            rows = conn.execute(select(table).order_by(table.id)).all()
        return [
            (
                row.destination,
                row.kind,
                json.loads(self.sealer.open(row.payload_ct, owner=quote(row.idempotency_key, safe=""))),
            )
            for row in rows
        ]


@pytest.fixture
def coupon_kit(loyalty_kit, tmp_path) -> CouponKit:
    ring = load_verified_ring(loyalty_kit.engine, KeyFileProvider(tmp_path / "keys" / "keyring.json"))
    sealer = PayloadSealer(loyalty_kit.engine, ring, "outbox")
    rules = make_rules(coupons=TEMPLATES, surveys=SURVEYS)
    loyalty_kit.loyalty = LoyaltyEngine(rules, loyalty_kit.clock, outbox=sealer)
    return CouponKit(loyalty_kit, sealer)


# ── surveys ────────────────────────────────────────────────────────────────────────────────────────


def test_a_low_satisfaction_answer_issues_one_apology_coupon_and_notifies_the_call_center(coupon_kit):
    outcome = coupon_kit.answer("s1", "c1", satisfaction="1")

    [coupon] = coupon_kit.coupons("c1")
    assert (coupon.kind, coupon.value_type, coupon.value, coupon.max_uses, coupon.uses) == (
        "apology",
        "amount",
        500,
        1,
        0,
    )
    assert coupon.code.startswith("OWABI-") and len(coupon.code) == len("OWABI-XXXX-XXXX-XXXX")
    assert coupon.expires_at == datetime(2026, 5, 2, tzinfo=T0.tzinfo)  # the end of the 30th JST day after
    assert (outcome.coupons_issued, outcome.messages) == (1, 2)
    [(to_mail, mail_kind, mail), (to_desk, desk_kind, note)] = coupon_kit.outbox()
    assert (to_mail, mail_kind, mail["coupon_code"], mail["value"]) == ("mailer", "coupon.issued", coupon.code, 500)
    assert datetime.fromisoformat(mail["issued_at"]) == T0
    assert (to_desk, desk_kind, note["rule"], note["answer"]) == ("helpdesk", "survey.call_center", "low", "1")
    assert note["coupon_code"] == coupon.code and note["member_id"] == str(coupon_kit.kit.member("c1", "survey"))
    assert looks_like_member_number(note["member_number"])  # a helpdesk without the member files it under it


def test_the_same_answer_synced_again_or_in_a_newer_version_issues_nothing_more(coupon_kit):
    coupon_kit.answer("s1", "c1", satisfaction="1")

    again = coupon_kit.answer("s1", "c1", satisfaction="1")
    newer = coupon_kit.answer("s1", "c1", version=5, satisfaction="2")

    assert len(coupon_kit.coupons("c1")) == 1
    assert len(coupon_kit.outbox()) == 2
    assert (again.coupons_issued, again.messages, again.entries) == (0, 0, 0)
    assert (newer.coupons_issued, newer.messages, newer.entries) == (0, 0, 0)
    assert coupon_kit.kit.balance("c1", source="survey").available == 100


def test_completing_a_survey_credits_points_once_through_the_ledger(coupon_kit):
    outcome = coupon_kit.answer("s1", "c1", satisfaction="4")
    coupon_kit.answer("s1", "c1", satisfaction="4")

    [entry] = coupon_kit.kit.ledger("c1", source="survey")
    assert (entry.kind, entry.points, entry.source_event) == ("adjust", 100, "survey:survey:s1:done")
    assert [(e.kind, e.delta) for e in outcome.events] == [("adjust", 100)]
    assert coupon_kit.coupons("c1") == []  # satisfied: no apology


def test_a_high_score_issues_a_multi_use_thank_you_coupon_without_an_email(coupon_kit):
    coupon_kit.answer("s1", "c1", score="10")

    [coupon] = coupon_kit.coupons("c1")
    assert (coupon.template_code, coupon.max_uses) == ("thanks-10", 3)
    assert coupon.code.startswith("THANKS10-")
    assert coupon_kit.outbox() == []


def test_a_response_answered_longer_ago_than_max_age_days_triggers_nothing(coupon_kit):
    coupon_kit.kit.clock.now = T0 + timedelta(days=31)

    outcome = coupon_kit.answer("s1", "c1", satisfaction="1")

    assert (outcome.entries, outcome.coupons_issued, outcome.messages) == (0, 0, 0)


def test_an_engine_without_an_outbox_refuses_a_notifying_rule_and_stores_nothing(coupon_kit):
    kit = coupon_kit.kit
    kit.loyalty = LoyaltyEngine(kit.loyalty.rules, kit.clock)

    with pytest.raises(ConfigError, match="has no outbox"):
        coupon_kit.answer("s1", "c1", satisfaction="1")

    with read_only(kit.engine).connect() as conn:
        assert records_repo.stored_survey_responses(conn, [("survey", "s1")]) == {}
        assert conn.execute(select(models.Coupon)).all() == []


# ── redemption ─────────────────────────────────────────────────────────────────────────────────────


def issued_code(coupon_kit: CouponKit, customer: str, **answers: str) -> str:
    coupon_kit.answer(f"s-{customer}", customer, **answers)
    [coupon] = coupon_kit.coupons(customer)
    return str(coupon.code)


def test_a_purchase_carrying_the_code_uses_the_coupon(coupon_kit):
    code = issued_code(coupon_kit, "c1", satisfaction="1")

    outcome = coupon_kit.buy("r1", "c1", code, source="survey", at=T0 + timedelta(days=1))

    [use] = coupon_kit.code_uses("r1")
    assert (use.status, use.reason, use.redeemed_at) == ("redeemed", None, T0 + timedelta(days=1))
    [coupon] = coupon_kit.coupons("c1")
    assert (coupon.uses, coupon.used_at) == (1, coupon_kit.kit.clock.now)
    assert (outcome.coupon_uses, outcome.coupon_refusals) == (1, 0)


def test_a_multi_use_coupon_is_used_max_uses_times_then_refused(coupon_kit):
    code = issued_code(coupon_kit, "c1", score="9")
    day = timedelta(days=1)

    coupon_kit.buy("r1", "c1", code, source="survey", at=T0 + day)
    coupon_kit.kit.ingest([
        purchase(f"r{n}", "c1", 1_000, T0 + n * day, source="survey").model_copy(update={"coupon_codes": (code,)})
        for n in (2, 3, 4)
    ])  # fmt: skip

    statuses = [(coupon_kit.code_uses(f"r{n}")[0].status, coupon_kit.code_uses(f"r{n}")[0].reason) for n in range(1, 5)]
    assert statuses == [("redeemed", None)] * 3 + [("refused", "used_up")]
    assert coupon_kit.coupons("c1")[0].uses == 3
    assert len([e for e in coupon_kit.kit.ledger("c1", source="survey") if e.kind == "earn"]) == 4  # all stand


def test_an_expired_coupon_is_refused_and_the_purchase_still_earns(coupon_kit):
    code = issued_code(coupon_kit, "c1", satisfaction="1")

    outcome = coupon_kit.buy("r1", "c1", code, source="survey", at=datetime(2026, 5, 2, tzinfo=T0.tzinfo))

    assert [(u.status, u.reason) for u in coupon_kit.code_uses("r1")] == [("refused", "expired")]
    assert (outcome.coupon_uses, outcome.coupon_refusals, outcome.entries) == (0, 1, 1)
    assert coupon_kit.coupons("c1")[0].used_at is None


def test_a_coupon_of_another_member_is_refused(coupon_kit):
    code = issued_code(coupon_kit, "c1", satisfaction="1")

    coupon_kit.buy("r1", "c2", code, source="survey")

    assert [(u.status, u.reason) for u in coupon_kit.code_uses("r1")] == [("refused", "other_member")]
    assert coupon_kit.coupons("c1")[0].uses == 0


def test_a_code_of_a_member_merged_into_another_is_accepted_across_the_cluster(coupon_kit):
    kit = coupon_kit.kit
    code = issued_code(coupon_kit, "c2", satisfaction="1")
    coupon_kit.answer("s-c1", "c1", satisfaction="5")
    merges = MemberMerges(kit.engine, kit.directory, SourceRanking(("console",)), lambda events: None)
    merges.merge(
        kit.member("c1", "survey"), kit.member("c2", "survey"), actor=Actor("sato", "supervisor"), reason="同一人物"
    )

    coupon_kit.buy("r1", "c1", code, source="survey", at=T0 + timedelta(hours=1))

    assert [(u.status, u.reason) for u in coupon_kit.code_uses("r1")] == [("redeemed", None)]


def test_unknown_codes_and_codes_on_guest_purchases_are_refused_and_the_purchases_stored(coupon_kit):
    code = issued_code(coupon_kit, "c1", satisfaction="1")
    guest = purchase("r2", "c1", 2_000, source="survey").model_copy(
        update={"customer_external_id": None, "coupon_codes": (code,)}
    )

    coupon_kit.buy("r1", "c1", "OWABI-NOPE-NOPE-NOPE", source="survey")
    coupon_kit.kit.ingest([guest])

    assert [(u.status, u.reason) for u in coupon_kit.code_uses("r1")] == [("refused", "unknown")]
    assert [(u.status, u.reason) for u in coupon_kit.code_uses("r2")] == [("refused", "guest")]
    with read_only(coupon_kit.kit.engine).connect() as conn:
        assert len(records_repo.stored_purchases(conn, [("survey", "r1"), ("survey", "r2")])) == 2


def test_a_code_typed_in_full_width_lower_case_with_spaces_is_the_same_code(coupon_kit):
    code = issued_code(coupon_kit, "c1", satisfaction="1")
    typed = code.lower().translate({ord(c): ord(c) + 0xFEE0 for c in "abcdefghijklmnopqrstuvwxyz0123456789"})

    record = Purchase.model_validate(
        {**purchase("r1", "c1", 3_000, source="survey").model_dump(), "coupon_codes": [f" {typed} "]}
    )
    coupon_kit.kit.ingest([record])

    assert [(u.code, u.status) for u in coupon_kit.code_uses("r1")] == [(code, "redeemed")]


def test_applying_a_purchase_again_uses_its_coupon_once(coupon_kit):
    code = issued_code(coupon_kit, "c1", score="10")

    coupon_kit.buy("r1", "c1", code, source="survey")
    again = coupon_kit.buy("r1", "c1", code, source="survey", version=1)

    assert coupon_kit.coupons("c1")[0].uses == 1
    assert (again.coupon_uses, again.coupon_refusals) == (0, 0)


def test_a_cancelled_purchase_gives_its_coupon_use_back(coupon_kit):
    code = issued_code(coupon_kit, "c1", satisfaction="1")
    coupon_kit.buy("r1", "c1", code, source="survey")

    outcome = coupon_kit.buy(
        "r1", "c1", code, source="survey", version=1, refunds=[("x1", "cancel", 3_000, T0 + timedelta(hours=2))]
    )
    coupon_kit.buy("r2", "c1", code, source="survey", at=T0 + timedelta(days=1))

    assert [u.status for u in coupon_kit.code_uses("r1")] == ["released"]
    assert [u.status for u in coupon_kit.code_uses("r2")] == ["redeemed"]
    assert outcome.coupon_releases == 1


def test_a_refunded_purchase_keeps_its_coupon_used(coupon_kit):
    code = issued_code(coupon_kit, "c1", satisfaction="1")
    coupon_kit.buy("r1", "c1", code, source="survey")

    coupon_kit.buy(
        "r1",
        "c1",
        code,
        source="survey",
        version=1,
        status="refunded",
        refunds=[("x1", "refund", 3_000, T0 + timedelta(hours=2))],
    )

    assert [u.status for u in coupon_kit.code_uses("r1")] == ["redeemed"]
    assert coupon_kit.coupons("c1")[0].used_at is not None


def test_codes_are_unguessable_and_distinct(coupon_kit):
    for n in range(20):
        coupon_kit.answer(f"s{n}", f"c{n}", satisfaction="1")

    with read_only(coupon_kit.kit.engine).connect() as conn:
        codes = [row.code for row in conn.execute(select(models.Coupon.code))]
    assert len(set(codes)) == 20
    assert all(
        set(code.removeprefix("OWABI-").replace("-", "")) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for code in codes
    )


def test_survey_points_and_coupon_uses_leave_recompute_nothing_to_report(coupon_kit):
    code = issued_code(coupon_kit, "c1", satisfaction="1")
    coupon_kit.buy("r1", "c1", code, source="survey")

    with coupon_kit.kit.engine.begin() as conn:
        report = coupon_kit.kit.loyalty.recompute(conn, verify=True)

    assert list(report.differences) == []
    assert coupon_kit.kit.balance("c1", source="survey").available == 100 + 30
