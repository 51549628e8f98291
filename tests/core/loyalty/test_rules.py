"""The rules file: the shipped example loads, and every mistake is refused naming the file, the key and why."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.loyalty import SHIPPED_RULES, load_rules, rules_file
from core.loyalty.periods import JST

VALID = """
version = "2026.1"

[earning]
points_per_yen = 0.01
pending_days = 30

[expiry]
policy = "days_after_earning"
days = 365

[ranks]
window_months = 12
evaluation_period = "year"

[[ranks.levels]]
code = "regular"
name_ja = "レギュラー"
name_en = "Regular"
threshold = 0
multiplier = 1.0

[[ranks.levels]]
code = "silver"
name_ja = "シルバー"
name_en = "Silver"
threshold = 50_000
multiplier = 1.1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loyalty.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_the_shipped_example_has_three_ranks_regular_silver_gold():
    rules = load_rules(SHIPPED_RULES)

    assert [(r.code, r.multiplier) for r in rules.ranks.levels] == [
        ("regular", Decimal("1.0")),
        ("silver", Decimal("1.5")),
        ("gold", Decimal("2.0")),
    ]
    assert rules.campaigns[0].starts_at == datetime(2026, 12, 1, tzinfo=JST)


def test_decimal_numbers_are_read_exactly(tmp_path):
    rules = load_rules(write(tmp_path, VALID))

    assert rules.earning.points_per_yen == Decimal("0.01")
    assert rules.rank("silver").multiplier == Decimal("1.1")


def test_a_missing_version_is_named(tmp_path):
    assert refused(tmp_path, VALID.replace('version = "2026.1"', "")) == "version: Field required"


def test_an_unknown_key_is_named_with_its_path(tmp_path):
    message = refused(tmp_path, VALID.replace("pending_days = 30", "pending_dayz = 30"))

    assert message == "earning.pending_dayz: Extra inputs are not permitted"


def test_thresholds_that_do_not_increase_are_refused(tmp_path):
    message = refused(tmp_path, VALID.replace("threshold = 50_000", "threshold = 0"))

    assert message == "ranks.levels: thresholds must increase: silver is not above regular"


def test_a_lowest_rank_above_zero_is_refused(tmp_path):
    message = refused(tmp_path, VALID.replace("threshold = 0\n", "threshold = 10\n"))

    assert message.startswith("ranks.levels: the first (lowest) rank must have threshold 0")


def test_a_bad_value_in_the_second_rank_names_its_index(tmp_path):
    message = refused(tmp_path, VALID.replace("multiplier = 1.1", "multiplier = -1"))

    assert message == "ranks.levels[1].multiplier: Input should be greater than 0"


def test_an_expiry_policy_with_a_bad_setting_is_named_without_the_policy_tag(tmp_path):
    message = refused(tmp_path, VALID.replace("days = 365", "days = 0"))

    assert message == "expiry.days: Input should be greater than or equal to 1"


def test_an_unknown_expiry_policy_is_refused(tmp_path):
    message = refused(tmp_path, VALID.replace('"days_after_earning"', '"weekly"'))

    assert message.startswith("expiry: Input tag 'weekly' found using 'policy' does not match")


def test_a_campaign_that_ends_before_it_starts_is_refused(tmp_path):
    campaign = """
[[campaigns]]
code = "spring"
name_ja = "春"
name_en = "Spring"
starts_at = 2026-04-01
ends_at = 2026-03-01
multiplier = 2
"""
    assert refused(tmp_path, VALID + campaign) == "campaigns[0]: ends_at must be after starts_at"


def test_a_campaign_targeting_an_unknown_rank_is_refused(tmp_path):
    campaign = """
[[campaigns]]
code = "gold-only"
name_ja = "ゴールド限定"
name_en = "Gold only"
starts_at = 2026-04-01T00:00:00+09:00
ends_at = 2026-05-01T00:00:00+09:00
multiplier = 2
ranks = ["gold"]
"""
    assert refused(tmp_path, VALID + campaign) == "campaigns: campaign gold-only targets unknown ranks: gold"


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    assert refused(tmp_path, "version = ").startswith("not valid TOML")


def test_a_file_that_is_not_utf8_or_nests_too_deeply_is_refused(tmp_path):
    """Found by fuzzing (fuzz/targets/loyalty_rules.py): these escaped as UnicodeDecodeError and RecursionError."""
    (tmp_path / "latin1.toml").write_bytes(b'version = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin1\.toml: not UTF-8 text \(byte 14\)"):
        load_rules(tmp_path / "latin1.toml")
    assert refused(tmp_path, "x = " + "[" * 5_000).startswith("not valid TOML (arrays or tables nested too deeply)")
    assert refused(tmp_path, "x = " + "9" * 5_000).startswith("not valid TOML (a value Python cannot read")


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"nowhere\.toml: cannot be read"):
        load_rules(tmp_path / "nowhere.toml")


def test_the_configured_rules_file_comes_first(tmp_path):
    write(tmp_path, VALID)

    assert rules_file(Path("/etc/hub/loyalty.toml"), tmp_path) == Path("/etc/hub/loyalty.toml")


def test_the_hub_homes_rules_file_comes_next(tmp_path):
    own = write(tmp_path, VALID)

    assert rules_file(None, tmp_path) == own


def test_the_shipped_example_is_the_fallback(tmp_path):
    assert rules_file(None, tmp_path) == SHIPPED_RULES


def test_rank_destinations_default_to_none(tmp_path):
    assert load_rules(write(tmp_path, VALID)).ranks.destinations == ()


def test_rank_destinations_are_connector_instance_names_given_once(tmp_path):
    with_destinations = VALID.replace('evaluation_period = "year"', 'evaluation_period = "year"\ndestinations = {}')

    listed = load_rules(write(tmp_path, with_destinations.format('["shopify-tokyo", "mailer"]')))
    twice = refused(tmp_path, with_destinations.format('["mailer", "mailer"]'))
    malformed = refused(tmp_path, with_destinations.format('["tokyo shop"]'))

    assert listed.ranks.destinations == ("shopify-tokyo", "mailer")
    assert twice == "ranks.destinations: rank destination mailer is defined twice"
    assert malformed.startswith("ranks.destinations[0]: String should match pattern")
