"""End to end through the hub: purchases synced from the Shopify emulator move a member up the ranks, and the
outbox dispatcher leaves the customer in Shopify tagged with the new rank and not the old one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.shopify.sandbox import SandboxServer
from core.store import models
from core.store import records as records_repo
from core.store.database import read_only
from hub.runtime import Hub
from tests.connectors.shopify.factories import roomy_shop, shopify_hub

SHOP = "shopify-tokyo"
LOYALTY_TOML = """
version = "e2e-1"

[earning]
points_per_yen = 0.01

[expiry]
policy = "never"

[ranks]
window_months = 60
destinations = ["shopify-tokyo"]

[[ranks.levels]]
code = "bronze"
name_ja = "ブロンズ"
name_en = "Bronze"
threshold = 0
multiplier = 1.0

[[ranks.levels]]
code = "silver"
name_ja = "シルバー"
name_en = "Silver"
threshold = {silver}
multiplier = 1.5

[[ranks.levels]]
code = "gold"
name_ja = "ゴールド"
name_en = "Gold"
threshold = {gold}
multiplier = 2.0
"""


def climber(shop: SandboxServer) -> tuple[str, list[int]]:
    """A customer of two or more plain orders (no refund, no cancellation, no in-store twin) and their totals,
    in the order a sync reads them (``updatedAt``, then id)."""
    records = shop.state.records
    data = records.data
    totals: dict[int, list[int]] = defaultdict(list)
    spoilt: set[int] = set()
    for order in sorted(range(1, data.orders + 1), key=lambda i: (records.updated_at("orders", i), i)):
        customer = data.order_customer(order)
        if customer is None:
            continue
        if records.refunds(order) or records.cancellation(order) or data.order_total(order) == 0:
            spoilt.add(customer)
        totals[customer].append(data.order_total(order))
    plain = [
        customer for customer, paid in totals.items()
        if len(paid) >= 2 and customer not in spoilt and data.twin_of(customer) is None
        and data.twin_of(customer + 1) is None
    ]  # fmt: skip
    chosen = plain[0]
    return records.global_id("customers", chosen), totals[chosen]


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    with roomy_shop() as server:
        yield server


@pytest.fixture
def hub(shop: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    _, (first, second, *_) = climber(shop)
    rules = LOYALTY_TOML.format(silver=first, gold=first + second)
    opened = shopify_hub(
        shop, tmp_path, monkeypatch, instance=SHOP, loyalty_toml=rules, settings="orders_page_size = 1"
    )
    yield opened
    opened.close()


def test_synced_purchases_move_the_rank_and_the_shopify_customer_carries_only_the_new_rank_tag(shop, hub):
    customer, _ = climber(shop)

    reports = [hub.sync.run(SHOP, stream) for stream in ("customers", "orders")]
    dispatched = hub.dispatcher.dispatch_due()

    assert [report.status for report in reports] == ["succeeded", "succeeded"], reports
    with read_only(hub.engine).connect() as conn:
        member = records_repo.linked_members(conn, [(SHOP, customer)])[(SHOP, customer)]
        moves = conn.execute(
            select(models.RankChange.from_rank, models.RankChange.to_rank)
            .where(models.RankChange.member_id == member)
            .order_by(models.RankChange.id)
        ).all()
        pending = conn.scalars(select(models.OutboxMessage.status).where(models.OutboxMessage.status != "delivered"))
        assert list(pending) == []
    with hub.engine.begin() as conn:
        points = hub.loyalty.balance(conn, member).available
    assert [tuple(move) for move in moves] == [(None, "silver"), ("silver", "gold")]
    assert [(report.destination, report.failed) for report in dispatched] == [(SHOP, 0)]
    tags = shop.state.record("customers", customer)["tags"]
    assert "rank:gold" in tags and "rank:silver" not in tags
    index = shop.state.records.index_of("customers", customer)
    assert index is not None
    rank, balance = (shop.state.records.metafield(index, "memberhub", key) for key in ("rank", "points"))
    assert rank is not None and rank["value"] == "gold"
    assert balance is not None and balance["value"] == str(points)
