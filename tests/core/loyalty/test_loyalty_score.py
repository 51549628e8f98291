"""Loyalty score: RFM, survey satisfaction and recent complaints, weighed by the rules, stored with its parts."""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import UUID

import pytest
from sqlalchemy import select

from core.errors import ConfigError
from core.loyalty.member_rules import LoyaltyScore
from core.loyalty.rules import load_rules
from core.loyalty.score import PARTS, ScoreInputs, compute_score, explain, score_members
from core.records import Inquiry, SurveyResponse
from core.store.models import MemberLoyaltyScore, MemberScore, MemberSegment
from tests.core.loyalty.conftest import T0, make_rules, purchase

NOW = T0 + timedelta(days=30)
MINIMAL_RULES = """
version = "t"
[earning]
points_per_yen = 0.01
[expiry]
policy = "never"
[[ranks.levels]]
code = "regular"
name_ja = "レギュラー"
name_en = "Regular"
threshold = 0
multiplier = 1.0
"""
CONFIG = {
    "rfm_weight": 50, "satisfaction_weight": 30, "inquiry_weight": 20, "survey_months": 6, "no_survey": 40,
    "complaint_days": 90, "complaint_penalty": 30, "unresolved_penalty": 20,
}  # fmt: skip


def survey(external_id: str, customer: str, satisfaction: str, days_ago: int) -> SurveyResponse:
    at = NOW - timedelta(days=days_ago)
    return SurveyResponse(
        source="pos", external_id=external_id, source_updated_at=at, customer_external_id=customer,
        survey_code="post-purchase", answers={"satisfaction": satisfaction}, answered_at=at,
    )  # fmt: skip


def inquiry(external_id: str, customer: str, category: str, status: str, days_ago: int) -> Inquiry:
    at = NOW - timedelta(days=days_ago)
    return Inquiry(source="pos", external_id=external_id, source_updated_at=at, customer_external_id=customer,
                   channel="phone", category=category, status=status, opened_at=at)  # type: ignore[arg-type]  # fmt: skip


# What each customer answered (satisfaction, days ago) and complained (category, status, days ago).
SURVEYS = {
    "c1": [("5", 10), ("4", 40)],
    "c2": [("１", 5), ("2", 200)],  # a full-width 1 counts; 200 days ago is outside the six months
    "c3": [("とても満足", 3), ("9", 3)],  # neither a number nor on the 1–5 scale: no answer
    "c5": [("3", 1)],
}
INQUIRIES = {
    "c2": [("complaint", "open", 10), ("complaint", "solved", 60), ("complaint", "closed", 120)],
    "c4": [("complaint", "pending", 1), ("delivery", "open", 1)],
    "c5": [("complaint", "solved", 89)],
}


def expected_score(rfm: tuple[int, int, int], customer: str) -> tuple[int, float, float, float]:
    """The score as docs/loyalty.md defines it, computed straight from the seeded answers and inquiries."""
    rfm_part = 0.0 if 0 in rfm else (sum(rfm) - 3) / 12 * 100
    given = [(value.replace("１", "1"), days) for value, days in SURVEYS.get(customer, [])]
    answers = [int(value) for value, days in given if days <= 182 and value.isdigit() and 1 <= int(value) <= 5]
    satisfaction = (sum(answers) / len(answers) - 1) / 4 * 100 if answers else 40.0
    recent = [(category, status) for category, status, days in INQUIRIES.get(customer, [])
              if category == "complaint" and days <= 90]  # fmt: skip
    unresolved = sum(status in ("open", "pending") for _, status in recent)
    inquiries = max(0.0, 100 - 30 * len(recent) - 20 * unresolved)
    total = 0.5 * rfm_part + 0.3 * satisfaction + 0.2 * inquiries
    return int(total + 0.5 + 1e-9), rfm_part, satisfaction, inquiries


def seed(kit) -> None:
    kit.ingest([
        purchase("p1", "c1", 30_000, NOW - timedelta(days=2)), purchase("p1b", "c1", 20_000, NOW - timedelta(days=9)),
        purchase("p2", "c2", 5_000, NOW - timedelta(days=50)),
        purchase("p3", "c3", 12_000, NOW - timedelta(days=20)),
        purchase("p4", "c4", 1_000, NOW - timedelta(days=100)),
    ])  # fmt: skip
    kit.ingest(
        [
            survey(f"s-{c}-{n}", c, value, days)
            for c, answers in SURVEYS.items()
            for n, (value, days) in enumerate(answers)
        ]
        + [inquiry(f"i-{c}-{n}", c, *row) for c, rows in INQUIRIES.items() for n, row in enumerate(rows)]
    )


def run_scoring(kit, config: dict = CONFIG):
    rules = make_rules(loyalty_score=config)
    with kit.engine.begin() as conn:
        kit.loyalty.run_rfm(conn, NOW)
        return score_members(conn, rules.loyalty_score, NOW)


def stored(kit) -> dict:
    with kit.engine.connect() as conn:
        rfm = {
            r.member_id: (r.recency_score, r.frequency_score, r.monetary_score)
            for r in conn.execute(select(MemberScore))
        }
        scores = {r.member_id: (r.score, json.loads(r.parts)) for r in conn.execute(select(MemberLoyaltyScore))}
    return {member: (rfm[member], *scores[member]) for member in scores}


def test_every_score_equals_an_independent_computation_from_the_seeded_data(loyalty_kit):
    seed(loyalty_kit)

    outcome = run_scoring(loyalty_kit)

    rows = stored(loyalty_kit)
    assert outcome.members == len(rows) == 5
    for customer in ("c1", "c2", "c3", "c4", "c5"):
        rfm, score, parts = rows[loyalty_kit.member(customer)]
        expected, rfm_part, satisfaction, inquiries = expected_score(rfm, customer)
        assert score == expected, customer
        assert parts["rfm"]["value"] == pytest.approx(rfm_part, abs=0.05)
        assert parts["satisfaction"]["value"] == pytest.approx(satisfaction, abs=0.05)
        assert parts["inquiries"]["value"] == pytest.approx(inquiries, abs=0.05)
    assert rows[loyalty_kit.member("c5")][0] == (0, 0, 0)  # never bought: the RFM part is 0
    with loyalty_kit.engine.connect() as conn:
        shown, unknown = explain(conn, loyalty_kit.member("c2")), explain(conn, UUID(int=1))
    assert unknown is None and shown is not None and [part.name for part in shown.parts] == list(PARTS)
    assert shown.parts[2].figures == {"complaints": 2, "unresolved": 1}
    assert rows[loyalty_kit.member("c2")][2]["inquiries"] == {
        "weight": 20, "value": 20.0, "points": 4.0, "complaints": 2, "unresolved": 1,
    }  # fmt: skip


def test_scoring_again_rewrites_the_scores_rather_than_adding_rows(loyalty_kit):
    seed(loyalty_kit)
    run_scoring(loyalty_kit)

    outcome = run_scoring(loyalty_kit, {**CONFIG, "rfm_weight": 100, "satisfaction_weight": 0, "inquiry_weight": 0})

    rows = stored(loyalty_kit)
    assert outcome.members == len(rows) == 5
    assert all(score == math.floor(Fraction(sum(rfm) - 3, 12) * 100 + Fraction(1, 2)) if 0 not in rfm else score == 0
               for rfm, score, _ in rows.values())  # fmt: skip


def test_the_explanation_lists_each_part_with_its_points():
    config = LoyaltyScore.model_validate(CONFIG)
    inputs = ScoreInputs((5, 4, 4), (Decimal(4), Decimal(5)), complaints=1, unresolved=0)

    score, parts = compute_score(config, inputs)

    # rfm 10/12 → 83.3 × 50 % = 41.7; satisfaction 4.5 → 87.5 × 30 % = 26.25 (26.3, half up); inquiries 70 × 20 % = 14
    assert score == 82
    assert parts["rfm"] == {"weight": 50, "value": 83.3, "points": 41.7, "recency_score": 5, "frequency_score": 4,
                            "monetary_score": 4}  # fmt: skip
    assert parts["satisfaction"] == {"weight": 30, "value": 87.5, "points": 26.3, "answers": 2, "mean": 4.5}


def test_a_score_exactly_half_way_rounds_up_where_floating_point_would_not():
    config = LoyaltyScore(no_survey=0, complaint_penalty=45, unresolved_penalty=0)  # weights 60 / 25 / 15

    # rfm 1/12 × 100 × 60 % = 5, satisfaction 0, inquiries (100 − 2 × 45) × 15 % = 1.5: 6.5 exactly
    score, parts = compute_score(config, ScoreInputs((1, 1, 2), complaints=2))

    assert 0.6 * (1 / 12 * 100) + 0.25 * 0 + 0.15 * 10 < 6.5  # 6.499999999999999 in floats
    assert score == 7 and (parts["rfm"]["points"], parts["inquiries"]["points"]) == (5.0, 1.5)


def test_a_segment_rule_over_the_loyalty_score(loyalty_kit):
    seed(loyalty_kit)
    segment = {"code": "loyal", "name_ja": "ロイヤル顧客", "name_en": "Loyal", "loyalty_score_min": 60}
    rules = make_rules(loyalty_score=CONFIG, segments=[segment])
    loyalty_kit.use_rules(rules)
    run_scoring(loyalty_kit)
    with loyalty_kit.engine.begin() as conn:
        loyalty_kit.loyalty.run_segments(conn, NOW)

    with loyalty_kit.engine.connect() as conn:
        members = set(
            conn.execute(select(MemberSegment.member_id).where(MemberSegment.segment_code == "loyal")).scalars()
        )
    high = {member for member, (_, score, _) in stored(loyalty_kit).items() if score >= 60}
    assert members == high and loyalty_kit.member("c1") in high and loyalty_kit.member("c2") not in high


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("rfm_weight = 50", "loyalty_score: rfm_weight + satisfaction_weight + inquiry_weight must add up to 100"),
        ("satisfaction_scale = [5, 1]", "loyalty_score: satisfaction_scale: the worst answer 5 must be below"),
        ("complaint_penalty = 120", "loyalty_score.complaint_penalty: Input should be less than or equal to 100"),
        ("complaint_categories = []", "loyalty_score.complaint_categories: Tuple should have at least 1 item"),
    ],
)
def test_a_bad_loyalty_score_section_names_the_key(tmp_path, section, message):
    path = tmp_path / "loyalty.toml"
    path.write_text(MINIMAL_RULES + f"\n[loyalty_score]\n{section}\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_rules(path)
