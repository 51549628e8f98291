"""``hub loyalty``: balance, redeem, adjust, run-jobs and recompute on a real hub (SQLite, key file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import InvalidInputError
from core.loyalty import LoyaltyEngine, load_rules
from core.records import Purchase
from core.store import records as records_repo
from hub.cli import loyalty
from hub.runtime import init_hub
from hub.settings import load_settings

RULES = """
version = "cli-test"
[earning]
points_per_yen = 0.01
[expiry]
policy = "never"
[ranks]
[[ranks.levels]]
code = "regular"
name_ja = "レギュラー"
name_en = "Regular"
threshold = 0
multiplier = 1
"""


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    for name, value in {
        "HUB_HOME": tmp_path / "data", "HUB_KEY_FILE": tmp_path / "keys" / "keyring.json", "HUB_LOYALTY_RULES": rules,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return rules


@pytest.fixture
def member_id(hub_env: Path) -> str:
    """A member who bought for 12,000 yen yesterday: 120 points."""
    hub, _ = init_hub(load_settings())
    bought = datetime.now(UTC) - timedelta(days=1)
    record = Purchase(source="pos", external_id="r1", source_updated_at=bought, customer_external_id="c1",
                      channel="store", total_amount=12_000, purchased_at=bought)  # fmt: skip
    engine = LoyaltyEngine(load_rules(hub_env), lambda: datetime.now(UTC))
    try:
        with hub.engine.begin() as conn:
            hub.sink.apply(conn, [record])
            stored = records_repo.stored_purchases(conn, [("pos", "r1")])
            engine.apply_purchases(conn, [row.id for row in stored.values()])
            return str(records_repo.linked_members(conn, [("pos", "c1")])[("pos", "c1")])
    finally:
        hub.close()


def run(*args: str):
    return CliRunner().invoke(loyalty.app, list(args))


def test_balance_shows_spendable_points_and_rank(member_id):
    result = run("balance", member_id)

    assert result.exit_code == 0, result.output
    assert "spendable" in result.output and "120" in result.output
    assert "レギュラー (Regular)" in result.output


def test_redeem_spends_and_repeating_its_source_event_spends_nothing_more(member_id):
    first = run("redeem", member_id, "50", "--reason", "レジ", "--source-event", "pos:redeem:9")
    again = run("redeem", member_id, "50", "--reason", "レジ", "--source-event", "pos:redeem:9")

    assert "redeemed: 50 points (pos:redeem:9); spendable now 70" in first.output
    assert "already recorded: 50 points" in again.output


def test_redeeming_beyond_the_balance_is_refused_with_the_balance(member_id):
    result = run("redeem", member_id, "500", "--reason", "レジ")

    assert isinstance(result.exception, InvalidInputError)
    assert "balance is 120 points" in str(result.exception)


def test_a_negative_adjustment_debits_points(member_id):
    result = run("adjust", member_id, "--reason", "訂正", "--", "-20")

    assert result.exit_code == 0, result.output
    assert "adjusted: -20 points" in result.output and "spendable now 100" in result.output


def test_run_jobs_reports_both_jobs(member_id):
    result = run("run-jobs")

    assert result.exit_code == 0, result.output
    assert "expiry: 0 lots written off" in result.output
    assert "rank period end: 0 rank changes" in result.output


def test_recompute_verify_finds_no_difference(member_id):
    result = run("recompute", "--verify")

    assert result.exit_code == 0, result.output
    assert "1 purchases, 1 clusters checked" in result.output and "no differences" in result.output
