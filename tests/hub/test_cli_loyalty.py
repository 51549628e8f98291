"""``hub loyalty``: balance, redeem, adjust, run-jobs, recompute and rules changes on a real hub (SQLite, key file)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import InvalidInputError
from core.loyalty import LoyaltyEngine, load_rules
from core.records import Purchase
from core.store import records as records_repo
from hub.cli import common, loyalty
from hub.runtime import init_hub
from hub.settings import load_settings
from hub.workers.collector import BULK_THRESHOLDS

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

SILVER = """
[[ranks.levels]]
code = "silver"
name_ja = "シルバー"
name_en = "Silver"
threshold = 10_000
multiplier = 1.5
"""
SEGMENT = """
[[segments]]
code = "buyers"
name_ja = "購入者"
name_en = "Buyers"
frequency_score = [1, 2, 3, 4, 5]
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
    monkeypatch.setattr(common.console, "width", 200)  # no terminal under xdist: keep rich from wrapping at 80
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
        sink = hub.sink  # built outside the transaction: building it may write the outbox's system key
        with hub.engine.begin() as conn:
            sink.apply(conn, [record])
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


def test_run_jobs_reports_every_nightly_job_in_order(member_id):
    result = run("run-jobs")

    assert result.exit_code == 0, result.output
    lines = [line.split(":")[0] for line in result.output.splitlines()]
    assert lines == [
        "expiry", "expiry notices", "rank period end", "birthday", "anniversary", "rfm", "loyalty score", "segments",
        "member status", "analytics",
    ]  # fmt: skip
    assert "expiry: 0 lots written off" in result.output
    assert "rank period end: 0 rank changes" in result.output
    assert "rfm: 1 members scored, 1 of them buyers" in result.output


def test_run_jobs_collects_garbage_every_50000_allocations_as_bulk_work_does(member_id):
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # CPython's defaults
        result = run("run-jobs")
        during = gc.get_threshold()
    finally:
        gc.set_threshold(*before)

    assert result.exit_code == 0, result.output
    assert during == BULK_THRESHOLDS == (50_000, 20, 100)


def test_expiring_lists_the_members_whose_points_lapse_within_the_window(hub_env, request):
    hub_env.write_text(RULES.replace('policy = "never"', 'policy = "days_after_earning"\ndays = 20'), encoding="utf-8")
    request.getfixturevalue("member_id")  # bought yesterday: 120 points lapse in about 20 days

    within = run("expiring", "--days", "30")
    beyond = run("expiring", "--days", "10")

    assert within.exit_code == 0, within.output
    assert "1 expiries, 120 points within 30 days" in within.output
    assert "no points expire within 10 days" in beyond.output


def test_run_jobs_puts_the_buyer_in_a_segment_once(member_id, hub_env):
    hub_env.write_text(RULES + SEGMENT, encoding="utf-8")

    first = run("run-jobs")
    second = run("run-jobs")

    assert "segments: 1 joined, 0 left, 0 outbox messages" in first.output
    assert "segments: 0 joined, 0 left, 0 outbox messages" in second.output


def test_rules_diff_shows_the_upgrade_and_writes_nothing(member_id, tmp_path):
    new = tmp_path / "new.toml"
    new.write_text(RULES.replace('"cli-test"', '"cli-test-2"') + SILVER, encoding="utf-8")

    result = run("rules", "diff", str(new))

    assert result.exit_code == 0, result.output
    assert "rules cli-test → cli-test-2: dry run, nothing was written" in result.output
    assert "1 rank changes now" in result.output and member_id in result.output and "silver" in result.output
    assert "レギュラー (Regular)" in run("balance", member_id).output


def test_rules_apply_upgrades_once_and_installs_the_file(member_id, tmp_path, hub_env):
    new = tmp_path / "new.toml"
    new.write_text(RULES.replace('"cli-test"', '"cli-test-2"') + SILVER, encoding="utf-8")

    applied = run("rules", "apply", str(new))
    again = run("rules", "apply", str(new))

    assert applied.exit_code == 0, applied.output
    assert "1 rank changes now" in applied.output and "0 balances changed" in applied.output
    assert hub_env.read_text(encoding="utf-8") == new.read_text(encoding="utf-8")
    assert "0 rank changes now" in again.output and "0 balances changed (0 ledger entries)" in again.output
    assert "シルバー (Silver)" in run("balance", member_id).output


def test_recompute_verify_finds_no_difference(member_id):
    result = run("recompute", "--verify")

    assert result.exit_code == 0, result.output
    assert "1 purchases, 1 clusters checked" in result.output and "no differences" in result.output
