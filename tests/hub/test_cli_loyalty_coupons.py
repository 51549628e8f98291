"""``hub loyalty coupons``: a member's coupons on a real hub (SQLite, key file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.loyalty import LoyaltyEngine, load_rules
from core.records import Purchase, SurveyResponse
from core.store import records as records_repo
from hub.runtime import init_hub
from hub.settings import load_settings
from tests.hub.test_cli_loyalty import RULES, hub_env, run

__all__ = ["hub_env"]  # the fixture, imported for this module's tests

COUPON_RULES = """
[[coupons]]
code = "apology-500"
kind = "apology"
name_ja = "お詫びクーポン"
name_en = "Apology coupon"
prefix = "OWABI"
value_type = "amount"
value = 500
valid_days = 30

[[surveys.rules]]
code = "low"
survey_code = "post-purchase"
when = { question = "satisfaction", op = "<=", value = 2 }
issue_coupon = "apology-500"
"""


@pytest.fixture
def answered(hub_env: Path) -> tuple[str, str]:
    """A member who answered the survey unhappily yesterday and got an apology coupon: (id, code)."""
    hub_env.write_text(RULES + COUPON_RULES, encoding="utf-8")
    hub, _ = init_hub(load_settings())
    now = datetime.now(UTC)
    response = SurveyResponse(source="mail", external_id="s1", source_updated_at=now - timedelta(days=1),
                              customer_external_id="c1", survey_code="post-purchase", answers={"satisfaction": "1"},
                              answered_at=now - timedelta(days=1))  # fmt: skip
    engine = LoyaltyEngine(load_rules(hub_env), lambda: now)
    try:
        sink = hub.sink  # built outside the transaction: building it may write the outbox's system key
        with hub.engine.begin() as conn:
            sink.apply(conn, [response])
            stored = records_repo.stored_survey_responses(conn, [("mail", "s1")])
            engine.apply_survey_responses(conn, [row.id for row in stored.values()])
            member_id = records_repo.linked_members(conn, [("mail", "c1")])[("mail", "c1")]
            [coupon] = engine.coupons(conn, member_id).coupons
        return str(member_id), coupon.code
    finally:
        hub.close()


def test_coupons_lists_code_value_uses_and_status(answered):
    member_id, code = answered

    result = run("coupons", member_id)

    assert result.exit_code == 0, result.output
    assert code in result.output and "お詫びクーポン (Apology coupon)" in result.output
    assert "500 yen" in result.output and "0/1" in result.output and "available" in result.output


def test_coupons_of_a_member_without_any_says_so(hub_env):
    hub, _ = init_hub(load_settings())
    bought = datetime.now(UTC)
    record = Purchase(source="pos", external_id="r1", source_updated_at=bought, customer_external_id="c1",
                      channel="store", total_amount=1_000, purchased_at=bought)  # fmt: skip
    try:
        sink = hub.sink
        with hub.engine.begin() as conn:
            sink.apply(conn, [record])
            member_id = records_repo.linked_members(conn, [("pos", "c1")])[("pos", "c1")]
    finally:
        hub.close()

    result = run("coupons", str(member_id))

    assert result.exit_code == 0, result.output
    assert "no coupons for" in result.output
