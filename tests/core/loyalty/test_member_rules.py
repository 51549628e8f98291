"""``[birthday]``, ``[rfm]`` and ``[[segments]]``: valid ones load, every mistake is named with its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.loyalty import SHIPPED_RULES, load_rules
from tests.core.loyalty.test_rules import VALID

SEGMENT = """
[[segments]]
code = "vip"
name_ja = "優良顧客"
name_en = "Best customers"
"""


def refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "loyalty.toml"
    path.write_text(VALID + text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    return str(caught.value).removeprefix(f"{path}: ")


def test_the_shipped_example_has_birthday_and_anniversary_bonuses_segments_and_rank_flags():
    rules = load_rules(SHIPPED_RULES)

    assert rules.birthday is not None and rules.birthday.benefit == "points"
    assert rules.anniversary is not None and rules.anniversary.points == 300
    assert [segment.code for segment in rules.segments] == ["vip", "online-regulars", "dormant", "loyal"]
    assert rules.segments[-1].loyalty_score_min == 70 and rules.loyalty_score.rfm_weight == 60
    assert rules.rank("gold").flags == ("priority_reservation", "rank_only_sale")


def test_a_points_benefit_without_points_is_refused(tmp_path):
    message = refused(tmp_path, '\n[birthday]\nbenefit = "points"\n')

    assert message == "birthday: benefit points needs points (and no coupon)"


def test_an_unknown_benefit_is_refused(tmp_path):
    assert refused(tmp_path, '\n[birthday]\nbenefit = "cake"\n').startswith("birthday.benefit: Input should be")


def test_a_coupon_benefit_must_name_a_coupon_template(tmp_path):
    message = refused(tmp_path, '\n[birthday]\nbenefit = "coupon"\ncoupon = "birthday"\n')

    assert message == "birthday: coupon: no [[coupons]] template has the code birthday"


def test_an_rfm_window_beyond_five_years_is_refused(tmp_path):
    message = refused(tmp_path, "\n[rfm]\nwindow_months = 61\n")

    assert message == "rfm.window_months: Input should be less than or equal to 60"


def test_a_segment_naming_an_unknown_rank_is_refused(tmp_path):
    message = refused(tmp_path, SEGMENT + 'ranks = ["platinum"]\n')

    assert message == "segments: segment vip names unknown ranks: platinum"


def test_a_score_outside_zero_to_five_is_named_with_its_position(tmp_path):
    message = refused(tmp_path, SEGMENT + "recency_score = [4, 6]\n")

    assert message == "segments[0].recency_score[1]: Input should be less than or equal to 5"


def test_a_spend_range_upside_down_is_refused(tmp_path):
    message = refused(tmp_path, SEGMENT + "spend_min = 10_000\nspend_max = 5_000\n")

    assert message == "segments[0]: segment vip: spend_min is above spend_max"


def test_a_channel_both_required_and_excluded_is_refused(tmp_path):
    message = refused(tmp_path, SEGMENT + 'channels = ["online"]\nwithout_channels = ["online"]\n')

    assert message == "segments[0]: segment vip: a channel is both in channels and in without_channels"


def test_two_segments_with_one_code_are_refused(tmp_path):
    assert refused(tmp_path, SEGMENT + SEGMENT) == "segments: segment code vip is defined twice"


def test_an_unknown_segment_key_is_refused(tmp_path):
    message = refused(tmp_path, SEGMENT + "consent = true\n")

    assert message == "segments[0].consent: Extra inputs are not permitted"


def test_campaigns_may_only_target_defined_segments(tmp_path):
    campaign = """
[[campaigns]]
code = "vip-double"
name_ja = "優良顧客2倍"
name_en = "Double for the best"
starts_at = 2026-04-01
ends_at = 2026-05-01
multiplier = 2
segments = ["vipp"]
"""
    message = refused(tmp_path, campaign + SEGMENT)

    assert message == "segments: campaign vip-double targets undefined segments: vipp"
