"""A real hub store (SQLite file or PostgreSQL, real keys) with the ingest sink and the loyalty engine."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, select

from core.crypto.key_providers import KeyFileProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer
from core.events import DomainEvent
from core.loyalty import Balance, LoyaltyEngine, LoyaltyOutcome, LoyaltyRules, PointsMovement
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.keys import load_verified_ring
from core.records import CanonicalRecord, Purchase, PurchaseAdjustment
from core.store import models
from core.store import records as records_repo
from core.store.database import create_hub_engine, read_only, upgrade_database
from core.sync.ingest import StoreSink

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 4, 1, 10, 0, tzinfo=JST)

BASE_RULES: dict[str, Any] = {
    "version": "test-1",
    "earning": {"points_per_yen": "0.01", "pending_days": 0},
    "expiry": {"policy": "days_after_earning", "days": 365},
    "ranks": {
        "measure": "spend",
        "window_months": 12,
        "evaluation_period": "year",
        "levels": [
            {"code": "regular", "name_ja": "レギュラー", "name_en": "Regular", "threshold": 0, "multiplier": "1.0"},
            {"code": "silver", "name_ja": "シルバー", "name_en": "Silver", "threshold": 50_000, "multiplier": "1.5"},
            {"code": "gold", "name_ja": "ゴールド", "name_en": "Gold", "threshold": 150_000, "multiplier": "2.0"},
        ],
    },
}


def make_rules(**sections: Any) -> LoyaltyRules:
    """The test rules (1 point per 100 yen, no pending window, 365-day expiry, three ranks) with changes.

    ``earning`` and ``ranks`` are merged key by key into the test rules; other sections replace theirs.
    """
    data = copy.deepcopy(BASE_RULES)
    for name, value in sections.items():
        if name in ("earning", "ranks"):
            data[name] = {**data[name], **value}
        else:
            data[name] = value
    return LoyaltyRules.model_validate(data)


@dataclass
class Clock:
    """The engine's clock, moved by the test."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


def purchase(
    external_id: str,
    customer: str,
    amount: int,
    at: datetime = T0,
    *,
    channel: str = "store",
    status: str = "completed",
    refunds: Sequence[tuple[str, str, int, datetime]] = (),
    version: int = 0,
    tax: int = 0,
    source: str = "pos",
) -> Purchase:
    """A purchase record; ``refunds`` are (external id, kind, yen, when) adjustments."""
    adjustments = tuple(
        PurchaseAdjustment(external_id=ref, kind=kind, amount=yen, occurred_at=when)  # type: ignore[arg-type]
        for ref, kind, yen, when in refunds
    )
    return Purchase(
        source=source, external_id=external_id, source_updated_at=at + timedelta(seconds=version),
        customer_external_id=customer, channel=channel, status=status, total_amount=amount, tax_amount=tax,  # type: ignore[arg-type]
        purchased_at=at, adjustments=adjustments,
    )  # fmt: skip


@dataclass
class LoyaltyKit:
    """The store, the ingest sink writing into it, and the loyalty engine over it."""

    engine: Engine
    directory: MemberDirectory
    sink: StoreSink
    clock: Clock
    loyalty: LoyaltyEngine
    published: list[DomainEvent] = field(default_factory=list)

    def use_rules(self, rules: LoyaltyRules) -> None:
        self.loyalty = LoyaltyEngine(rules, self.clock)

    def ingest(self, records: Sequence[CanonicalRecord]) -> LoyaltyOutcome:
        """Store one batch and apply loyalty to its purchases in the same transaction, as the sink will."""
        with self.engine.begin() as conn:
            self.sink.apply(conn, records)
            keys = [(r.source, r.external_id) for r in records if isinstance(r, Purchase)]
            ids = [row.id for row in records_repo.stored_purchases(conn, keys).values()]
            outcome = self.loyalty.apply_purchases(conn, ids)
        self.published.extend(outcome.events)
        return outcome

    def member(self, customer: str, source: str = "pos") -> UUID:
        with read_only(self.engine).connect() as conn:
            return records_repo.linked_members(conn, [(source, customer)])[(source, customer)]

    def balance(self, customer: str, *, source: str = "pos") -> Balance:
        member_id = self.member(customer, source)
        with self.engine.begin() as conn:
            return self.loyalty.balance(conn, member_id)

    def redeem(
        self, customer: str, points: int, source_event: str, reason: str = "レジで利用", *, source: str = "pos"
    ) -> PointsMovement:
        member_id = self.member(customer, source)
        with self.engine.begin() as conn:
            return self.loyalty.redeem(conn, member_id, points, reason, source_event)

    def adjust(self, customer: str, points: int, source_event: str, reason: str = "goodwill") -> PointsMovement:
        member_id = self.member(customer)
        with self.engine.begin() as conn:
            return self.loyalty.adjust(conn, member_id, points, reason, source_event)

    def run_expiry(self, now: datetime) -> LoyaltyOutcome:
        with self.engine.begin() as conn:
            return self.loyalty.run_expiry(conn, now)

    def run_period_end(self, now: datetime) -> LoyaltyOutcome:
        with self.engine.begin() as conn:
            return self.loyalty.run_rank_period_end(conn, now)

    def ledger(self, customer: str | None = None, *, source: str = "pos") -> list[Any]:
        """Ledger entries (of one customer's member, or all), oldest first."""
        table = models.PointLedgerEntry
        query = select(table).order_by(table.id)
        if customer is not None:
            query = query.where(table.member_id == self.member(customer, source))
        return self._rows(query)

    def rank(self, customer: str) -> str | None:
        query = select(models.Member.rank_code).where(models.Member.id == self.member(customer))
        return self._rows(query)[0].rank_code

    def rank_history(self, customer: str) -> list[Any]:
        table = models.RankChange
        return self._rows(select(table).where(table.member_id == self.member(customer)).order_by(table.id))

    def _rows(self, query: Any) -> list[Any]:
        with read_only(self.engine).connect() as conn:
            return list(conn.execute(query).all())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def loyalty_kit(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[LoyaltyKit]:
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    provider = KeyFileProvider(tmp_path / "keys" / "keyring.json")
    provider.create(KeyRing.generate())
    ring = load_verified_ring(engine, provider)
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(tmp_path / "keys" / "ledger.jsonl"))
    sink = StoreSink(directory, source_priority=("console",), clock=clock)
    yield LoyaltyKit(engine, directory, sink, clock, LoyaltyEngine(make_rules(), clock))
    engine.dispose()
