"""Rank-upgrade coupons: moving up into a rank issues its coupon once per cluster, rank and evaluation period."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.errors import ConfigError
from core.loyalty import LoyaltyEngine
from core.loyalty.rules import SHIPPED_RULES, load_rules
from core.store import models
from core.sync.contract import COUPON_MESSAGE
from core.sync.payloads import PayloadSealer
from tests.core.loyalty.conftest import BASE_RULES, JST, T0, make_rules, purchase

NEW_YEAR = datetime(2027, 1, 1, tzinfo=JST)
TEMPLATES = [
    {"code": f"{rank}-welcome", "kind": "welcome", "name_ja": f"{rank} 昇格御礼", "name_en": f"Welcome to {rank}",
     "value_type": "amount", "value": value, "valid_days": 30, "email_destination": "mailer"}
    for rank, value in (("silver", 500), ("gold", 1_000))
]  # fmt: skip


def _rules(**changes):
    levels = [dict(level) for level in BASE_RULES["ranks"]["levels"]]
    levels[1]["upgrade_coupon"], levels[2]["upgrade_coupon"] = "silver-welcome", "gold-welcome"
    return make_rules(**{"ranks": {"levels": levels}, "coupons": TEMPLATES, **changes})


@pytest.fixture
def outbox(loyalty_kit) -> PayloadSealer:
    sealer = PayloadSealer(loyalty_kit.engine, loyalty_kit.directory.sealer.ring, "outbox")
    loyalty_kit.loyalty = LoyaltyEngine(_rules(), loyalty_kit.clock, outbox=sealer)
    return sealer


def coupons(kit) -> list[tuple[str, str]]:
    """(template, source event) of every coupon, oldest first."""
    with kit.engine.connect() as conn:
        rows = conn.execute(select(models.Coupon).order_by(models.Coupon.id)).all()
    return [(row.template_code, row.source_event) for row in rows]


def coupon_messages(kit, sealer: PayloadSealer) -> list[tuple[str, dict]]:
    with kit.engine.connect() as conn:
        rows = conn.execute(select(models.OutboxMessage).where(models.OutboxMessage.kind == COUPON_MESSAGE)).all()
    return [
        (row.destination, json.loads(sealer.open(row.payload_ct, owner=quote(row.idempotency_key, safe=""))))
        for row in rows
    ]


def test_a_purchase_exactly_at_the_threshold_issues_the_ranks_coupon_and_tells_the_mailer(loyalty_kit, outbox):
    below = loyalty_kit.ingest([purchase("r1", "c1", 49_999)])
    at = loyalty_kit.ingest([purchase("r2", "c2", 50_000)])

    member = loyalty_kit.member("c2")
    assert (below.coupons_issued, at.coupons_issued, at.messages) == (0, 1, 1)
    assert coupons(loyalty_kit) == [("silver-welcome", f"rank-upgrade:{member}:silver:2026-01-01")]
    [(destination, payload)] = coupon_messages(loyalty_kit, outbox)
    assert destination == "mailer"
    assert (payload["member_id"], payload["template"], payload["value"]) == (str(member), "silver-welcome", 500)


def test_redelivery_and_recompute_issue_nothing_more(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "c1", 60_000)])

    again = loyalty_kit.ingest([purchase("r1", "c1", 60_000, version=1)])
    with loyalty_kit.engine.begin() as conn:
        report = loyalty_kit.loyalty.recompute(conn, verify=False)

    assert again.coupons_issued == 0 and report.differences == []
    assert len(coupons(loyalty_kit)) == 1 and len(coupon_messages(loyalty_kit, outbox)) == 1


def test_a_jump_to_the_top_rank_issues_only_its_coupon(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "c1", 150_000)])

    assert [template for template, _ in coupons(loyalty_kit)] == ["gold-welcome"]


def test_a_refund_below_and_climbing_back_in_the_same_period_issues_nothing_more(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "c1", 50_000)])
    refund = [("f1", "refund", 20_000, T0 + timedelta(days=1))]
    loyalty_kit.ingest([purchase("r1", "c1", 50_000, refunds=refund, version=1)])

    climbed = loyalty_kit.ingest([purchase("r2", "c1", 30_000, T0 + timedelta(days=2))])

    assert climbed.coupons_issued == 0 and loyalty_kit.rank("c1") == "silver"
    assert len(coupons(loyalty_kit)) == 1


def test_no_coupon_on_a_downgrade_and_a_new_one_on_the_upgrade_of_a_later_period(loyalty_kit, outbox, clock):
    loyalty_kit.ingest([purchase("r1", "c1", 50_000)])
    refund = [("f1", "refund", 20_000, T0 + timedelta(days=1))]
    loyalty_kit.ingest([purchase("r1", "c1", 50_000, refunds=refund, version=1)])

    down = loyalty_kit.run_period_end(NEW_YEAR + timedelta(hours=1))
    clock.now = NEW_YEAR + timedelta(days=9)
    up = loyalty_kit.ingest([purchase("r2", "c1", 20_000, clock.now)])

    member = loyalty_kit.member("c1")
    assert (down.rank_changes, down.coupons_issued) == (1, 0)
    assert (up.rank_changes, up.coupons_issued) == (1, 1)
    assert [event for _, event in coupons(loyalty_kit)] == [
        f"rank-upgrade:{member}:silver:2026-01-01",
        f"rank-upgrade:{member}:silver:2027-01-01",
    ]


def test_a_rank_naming_an_unknown_template_is_refused(tmp_path):
    with pytest.raises(ValueError, match="rank silver issues unknown coupon template silver-welcome"):
        _rules(coupons=[])
    shipped = SHIPPED_RULES.read_text(encoding="utf-8")
    own = tmp_path / "loyalty.toml"
    own.write_text(shipped.replace('# upgrade_coupon = "silver-welcome"', 'upgrade_coupon = "silver-welcome"'))
    assert load_rules(own).rank("silver").upgrade_coupon == "silver-welcome"
    own.write_text(shipped.replace('# upgrade_coupon = "silver-welcome"', 'upgrade_coupon = "gold-welcome"'))
    with pytest.raises(ConfigError, match="coupons: rank silver issues unknown coupon template gold-welcome"):
        load_rules(own)
