"""Property: whatever the order and repetition of purchases, refunds, redemptions and expiry runs, the ledger
agrees with a plain recomputation, no balance goes below zero and no source event is awarded twice.

The model below is written independently of the engine: integer arithmetic for points, lists for lots.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.errors import InvalidInputError
from core.store import models
from tests.core.loyalty.conftest import JST, T0, make_rules, purchase

PENDING = timedelta(days=10)
ONLINE_BONUS = {
    "code": "online", "name_ja": "オンライン1.5倍", "name_en": "Online 1.5x", "multiplier": "1.5",
    "starts_at": "2000-01-01", "ends_at": "2100-01-01", "channels": ["online"],
}  # fmt: skip
RULES = make_rules(
    earning={"pending_days": 10},
    expiry={"policy": "days_after_earning", "days": 180},
    ranks={"levels": [{"code": "regular", "name_ja": "一般", "name_en": "Regular", "threshold": 0, "multiplier": "1"}]},
    campaigns=[ONLINE_BONUS],
)
CUSTOMERS = ("c0", "c1")


# ── the plain recomputation ────────────────────────────────────────────────────────────────────────


@dataclass
class ModelLot:
    seq: int
    customer: str
    remaining: int
    available_at: datetime
    expires_at: datetime

    def lapsed(self, now: datetime) -> bool:
        return self.expires_at <= now


@dataclass
class Model:
    lots: list[ModelLot] = field(default_factory=list)
    stored: dict[str, tuple[int, Any]] = field(default_factory=dict)  # purchase → (version, record)
    earned: dict[str, tuple[int, ModelLot]] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)
    redeemed: set[str] = field(default_factory=set)
    ledger: dict[str, int] = field(default_factory=dict)  # customer → sum of entries

    def deliver(self, version: int, record: Any, now: datetime) -> None:
        if record.external_id not in self.stored or version > self.stored[record.external_id][0]:
            self.stored[record.external_id] = (version, record)
        _, current = self.stored[record.external_id]
        customer = current.customer_external_id
        if current.external_id not in self.earned:
            rate = 15 if current.channel == "online" else 10  # points per 1,000 yen
            points = current.total_amount * rate // 1000
            day = current.purchased_at.astimezone(JST).date() + timedelta(days=181)
            lot = ModelLot(len(self.lots), customer, points, current.purchased_at + PENDING,
                           datetime.combine(day, time(), JST))  # fmt: skip
            self.lots.append(lot)
            self.earned[current.external_id] = (points, lot)
            self._move(customer, points)
        self._reverse(current, now)

    def _reverse(self, record: Any, now: datetime) -> None:
        earned, own = self.earned[record.external_id]
        refunded, cancelled = 0, False
        for adjustment in record.adjustments:
            event = f"{adjustment.kind}:{record.source}:{adjustment.external_id}"
            before = 0 if cancelled else earned * max(record.total_amount - refunded, 0) // record.total_amount
            refunded += adjustment.amount if adjustment.kind == "refund" else 0
            cancelled = cancelled or adjustment.kind == "cancel"
            after = 0 if cancelled else earned * max(record.total_amount - refunded, 0) // record.total_amount
            if event in self.reversed:
                continue
            self.reversed.add(event)
            others = sorted((lot for lot in self._lots(record.customer_external_id) if lot is not own),
                            key=lambda lot: (lot.expires_at, lot.available_at, lot.seq))  # fmt: skip
            order = [lot for lot in [own, *others] if not lot.lapsed(now)]
            self._move(record.customer_external_id, -self._take(order, before - after))

    def redeem(self, customer: str, points: int, event: str, now: datetime) -> bool:
        """Whether the redemption is (or was already) accepted."""
        if event in self.redeemed:
            return True
        spendable = [lot for lot in self._lots(customer) if lot.available_at <= now and not lot.lapsed(now)]
        if sum(lot.remaining for lot in spendable) < points:
            return False
        self.redeemed.add(event)
        self._take(sorted(spendable, key=lambda lot: (lot.expires_at, lot.available_at, lot.seq)), points)
        self._move(customer, -points)
        return True

    def expire(self, now: datetime) -> None:
        for lot in self.lots:
            if lot.lapsed(now) and lot.remaining > 0:
                self._move(lot.customer, -lot.remaining)
                lot.remaining = 0

    def balance(self, customer: str, now: datetime) -> tuple[int, int, int]:
        lots = self._lots(customer)
        available = sum(lot.remaining for lot in lots if lot.available_at <= now and not lot.lapsed(now))
        pending = sum(lot.remaining for lot in lots if lot.available_at > now and not lot.lapsed(now))
        return available, pending, sum(lot.remaining for lot in lots if lot.lapsed(now))

    def _lots(self, customer: str) -> list[ModelLot]:
        return [lot for lot in self.lots if lot.customer == customer]

    def _take(self, lots: list[ModelLot], points: int) -> int:
        taken = 0
        for lot in lots:
            part = min(lot.remaining, points - taken)
            lot.remaining -= part
            taken += part
        return taken

    def _move(self, customer: str, points: int) -> None:
        self.ledger[customer] = self.ledger.get(customer, 0) + points


# ── scenarios ──────────────────────────────────────────────────────────────────────────────────────


@st.composite
def purchase_versions(draw: st.DrawFn, index: int) -> list[tuple[str, int, datetime, str, list[Any]]]:
    """The versions a source sends of one purchase: as bought, then with each refund or the cancellation."""
    customer = draw(st.sampled_from(CUSTOMERS))
    amount = draw(st.integers(100, 30_000))
    at = T0 + timedelta(days=draw(st.integers(0, 120)), minutes=index)
    channel = draw(st.sampled_from(["store", "online"]))
    refunds = draw(st.lists(st.integers(1, amount), max_size=2))
    adjustments = [(f"f{index}-{n}", "refund", yen, at + timedelta(days=n + 1)) for n, yen in enumerate(refunds)]
    if draw(st.booleans()):
        adjustments.append((f"x{index}", "cancel", 0, at + timedelta(days=len(refunds) + 1)))
    return [(customer, amount, at, channel, adjustments[:n]) for n in range(len(adjustments) + 1)]


# Lots earned within four months of each other, lapsing after six, over runs of up to 16 steps of up to two
# months: refunds, redemptions and expiry meet lots that are pending, spendable and lapsed.
step = st.one_of(
    st.tuples(st.just("deliver"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("deliver"), st.integers(0, 3), st.integers(1, 3)),
    st.tuples(st.just("redeem"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("expire"), st.just(0), st.just(0)),
)
scenario = st.tuples(
    st.tuples(*(purchase_versions(i) for i in range(4))),
    st.lists(st.tuples(st.sampled_from(CUSTOMERS), st.integers(1, 150)), min_size=3, max_size=3),
    st.lists(st.tuples(step, st.integers(0, 60)), min_size=1, max_size=16),
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenario)
def test_any_order_of_events_gives_the_plain_recomputation(loyalty_kit, clock, scenario):
    loyalty_kit.use_rules(RULES)
    source = f"p{secrets.token_hex(4)}"  # each example has its own purchases and members in the shared store
    purchases, redemptions, steps = scenario
    model, now = Model(), T0
    for (kind, first, second), days in steps:
        now += timedelta(days=days)
        clock.now = now
        if kind == "deliver":
            _deliver(loyalty_kit, model, source, purchases[first], first, second, now)
        elif kind == "redeem" and redemptions[first][0] in model.ledger:
            customer, points = redemptions[first]
            _redeem(loyalty_kit, model, source, customer, points, f"{source}:redeem:{first}", now)
        elif kind == "expire":
            loyalty_kit.run_expiry(now)
            model.expire(now)
        _assert_agrees(loyalty_kit, model, source, now)
    _assert_each_purchase_earned_once(loyalty_kit, model, source)


def _deliver(kit, model: Model, source: str, versions: list[Any], index: int, wanted: int, now: datetime) -> None:
    version = min(wanted, len(versions) - 1)
    customer, amount, at, channel, adjustments = versions[version]
    status = "cancelled" if any(kind == "cancel" for _, kind, _, _ in adjustments) else "completed"
    record = purchase(f"r{index}", f"{source}-{customer}", amount, at, channel=channel, refunds=adjustments,
                      version=version, source=source, status=status)  # fmt: skip
    kit.ingest([record])
    model.deliver(version, record.model_copy(update={"customer_external_id": customer}), now)


def _redeem(kit, model: Model, source: str, customer: str, points: int, event: str, now: datetime) -> None:
    accepted = model.redeem(customer, points, event, now)
    try:
        kit.redeem(f"{source}-{customer}", points, event, source=source)
    except InvalidInputError as error:
        assert not accepted, f"refused although the recomputation accepts it: {error}"
        return
    assert accepted, "accepted although the recomputation refuses it"


def _assert_agrees(kit, model: Model, source: str, now: datetime) -> None:
    for customer in model.ledger:
        balance = kit.balance(f"{source}-{customer}", source=source)
        assert (balance.available, balance.pending, balance.lapsed) == model.balance(customer, now)
        assert min(balance.available, balance.pending, balance.lapsed) >= 0
        entries = kit.ledger(f"{source}-{customer}", source=source)
        assert sum(entry.points for entry in entries) == model.ledger[customer]


def _assert_each_purchase_earned_once(kit, model: Model, source: str) -> None:
    table = models.PointLedgerEntry
    earns = (table.kind == "earn", table.source_event.like(f"purchase:{source}:%"))
    query = select(table.source_event, func.count()).where(*earns).group_by(table.source_event)
    with kit.engine.connect() as conn:
        earned = dict(conn.execute(query).all())
    assert earned == {f"purchase:{source}:{external_id}": 1 for external_id in model.earned}
    with kit.engine.begin() as conn:
        assert kit.loyalty.recompute(conn, verify=True).differences == []
