"""Campaign holdout groups: a stable, uniform share of cluster roots never earns the campaign's bonus."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal

import pytest

from core.errors import ConfigError
from core.loyalty.holdout import held_out, in_holdout
from core.loyalty.rules import SHIPPED_RULES, load_rules
from tests.core.loyalty.conftest import T0, make_rules, purchase

MEMBERS = 2_000
HOLDOUT = {
    "code": "spring-double", "name_ja": "春のポイント2倍", "name_en": "Spring double points", "multiplier": "2",
    "starts_at": "2026-04-01T00:00:00+09:00", "ends_at": "2026-05-01T00:00:00+09:00", "holdout_percent": 20,
}  # fmt: skip


def _within_binomial(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    spread = sigmas * math.sqrt(n * p * (1 - p))
    return n * p - spread <= count <= n * p + spread


def test_the_draw_is_stable_and_independent_between_campaigns():
    members = [uuid.UUID(int=i * 7919 + 1) for i in range(20_000)]

    first = set(held_out("spring-double", members, 20))

    assert first == set(held_out("spring-double", members, Decimal(20)))
    assert first == {m for m in members if in_holdout("spring-double", m, 20.0)}
    assert _within_binomial(len(first), len(members), 0.20)
    other = set(held_out("summer-double", members, 20))
    assert _within_binomial(len(first & other), len(members), 0.04)  # independent draws: 20 % of 20 %


def test_a_larger_holdout_contains_the_smaller_one_and_zero_holds_out_nobody():
    members = [uuid.UUID(int=i) for i in range(5_000)]

    ten, twenty = set(held_out("c", members, 10)), set(held_out("c", members, 20))

    assert ten < twenty
    assert not list(held_out("c", members, 0))


def test_a_holdout_above_half_the_members_is_refused():
    with pytest.raises(ValueError, match="holdout_percent"):
        make_rules(campaigns=[{**HOLDOUT, "holdout_percent": 51}])


def test_held_out_members_never_earn_the_bonus_and_recompute_agrees(loyalty_kit):
    loyalty_kit.use_rules(make_rules(campaigns=[HOLDOUT]))
    purchases = [purchase(f"r{i}", f"c{i}", 1_000, T0) for i in range(MEMBERS)]

    loyalty_kit.ingest(purchases)
    loyalty_kit.ingest(purchases[:100])  # re-delivered: nothing is judged again

    entries = loyalty_kit.ledger()
    assert len(entries) == MEMBERS
    held = {e.member_id for e in entries if in_holdout("spring-double", e.member_id, 20)}
    assert _within_binomial(len(held), MEMBERS, 0.20)
    for entry in entries:
        expected = (10, None) if entry.member_id in held else (20, "spring-double")
        assert (entry.points, entry.campaign_codes) == expected
    with loyalty_kit.engine.begin() as conn:
        report = loyalty_kit.loyalty.recompute(conn, verify=True)
    assert report.differences == [] and report.purchases == MEMBERS


def test_recompute_reports_a_held_out_member_whose_bonus_the_rules_now_say_was_due(loyalty_kit):
    loyalty_kit.use_rules(make_rules(campaigns=[HOLDOUT]))
    loyalty_kit.ingest([purchase(f"r{i}", f"c{i}", 1_000, T0) for i in range(60)])
    held = {e.member_id for e in loyalty_kit.ledger() if e.campaign_codes is None}

    loyalty_kit.use_rules(make_rules(campaigns=[{**HOLDOUT, "holdout_percent": 0}]))
    with loyalty_kit.engine.begin() as conn:
        report = loyalty_kit.loyalty.recompute(conn, verify=True)

    assert held == {m for m in held if in_holdout("spring-double", m, 20)}
    assert len(report.differences) == len(held)


def test_the_shipped_example_campaign_shows_a_holdout_that_loads_once_uncommented(tmp_path):
    shipped = SHIPPED_RULES.read_text(encoding="utf-8")
    assert [c.holdout_percent for c in load_rules(SHIPPED_RULES).campaigns] == [0]
    own = tmp_path / "loyalty.toml"
    own.write_text(shipped.replace("# holdout_percent = 10  ", "holdout_percent = 10"), encoding="utf-8")
    assert [c.holdout_percent for c in load_rules(own).campaigns] == [10]

    own.write_text(shipped.replace("# holdout_percent = 10  ", "holdout_percent = 60"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"campaigns\[0\]\.holdout_percent"):
        load_rules(own)
