"""A seeded loyalty data set written straight into the tables, and the same data kept as plain Python rows.

Sixty members (some merged into others, one erased) over a year and a half: purchases in both channels and
three stores, refunds and cancellations, rank changes, point lots with consumptions, survey answers (some
not numbers). ``Seeded`` keeps every row so the tests can compute each figure the straightforward way.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, insert

from core.store.models import (
    Member,
    PointLedgerEntry,
    PointLotConsumption,
    Purchase,
    PurchaseAdjustment,
    RankChange,
    SurveyResponse,
    table_of,
)

JST = timezone(timedelta(hours=9))
START = datetime(2025, 6, 1, tzinfo=JST)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=JST)
RANKS = ("regular", "silver", "gold")
STORES = ("shibuya", "umeda", "sapporo")


@dataclass
class Seeded:
    """Every row written, as dicts with the column values (UUIDs and aware datetimes)."""

    members: list[dict[str, Any]] = field(default_factory=list)
    purchases: list[dict[str, Any]] = field(default_factory=list)
    adjustments: list[dict[str, Any]] = field(default_factory=list)
    ranks: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    consumptions: list[dict[str, Any]] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)

    def write(self, engine: Engine) -> None:
        """Insert every row (members first, merged members after the ones they point to)."""
        tables = [
            (Member, self.members),
            (Purchase, self.purchases),
            (PurchaseAdjustment, self.adjustments),
            (RankChange, self.ranks),
            (PointLedgerEntry, self.ledger),
            (PointLotConsumption, self.consumptions),
            (SurveyResponse, self.surveys),
        ]
        with engine.begin() as conn:
            for model, rows in tables:
                if rows:
                    conn.execute(insert(table_of(model)), rows)


def seed(rng: random.Random) -> Seeded:
    """A random but reproducible data set."""
    data = Seeded()
    for n in range(60):
        created = START + timedelta(days=rng.randrange(0, 500), hours=rng.randrange(24))
        merged_into = data.members[rng.randrange(n)]["id"] if n >= 10 and rng.random() < 0.15 else None
        status = "merged" if merged_into else ("erased" if n == 7 else "active")
        data.members.append(
            {"id": uuid.UUID(int=rng.getrandbits(128)), "status": status, "merged_into": merged_into,
             "created_at": created, "rank_code": None}
        )  # fmt: skip
    for member in data.members:
        _history(data, rng, member)
    return data


def _history(data: Seeded, rng: random.Random, member: dict[str, Any]) -> None:
    created = member["created_at"]
    for k in range(rng.randrange(0, 14)):
        # a few at the very first instant of a month, to check the JST boundaries
        at = created + timedelta(days=rng.randrange(0, 420), minutes=rng.randrange(1440))
        if k == 0 and rng.random() < 0.3:
            at = datetime(at.year, at.month, 1, tzinfo=JST)
        _purchase(data, rng, member["id"], at)
    _ranks(data, rng, member)
    for _ in range(rng.choice([0, 2, 4, 6])):
        _survey(data, rng, member["id"], created + timedelta(days=rng.randrange(0, 300), minutes=rng.randrange(1440)))


def _purchase(data: Seeded, rng: random.Random, member_id: uuid.UUID, at: datetime) -> None:
    n = len(data.purchases) + 1
    status = rng.choice(["completed"] * 8 + ["partially_refunded", "refunded", "cancelled"])
    channel = rng.choice(["store", "online"])
    amount = rng.randrange(500, 40_000)
    data.purchases.append(
        {"id": n, "member_id": member_id if rng.random() > 0.05 else None, "source": "pos", "external_id": f"p{n}",
         "channel": channel, "store_code": rng.choice(STORES) if channel == "store" else None, "status": status,
         "total_amount": amount, "purchased_at": at, "source_updated_at": at}
    )  # fmt: skip
    roll = rng.random()
    if roll < 0.12:
        refund = amount if roll < 0.03 else rng.randrange(1, amount)
        data.adjustments.append(
            {"id": len(data.adjustments) + 1, "purchase_id": n, "source": "pos", "external_id": f"a{n}",
             "kind": "refund", "amount": refund, "occurred_at": at + timedelta(days=3)}
        )  # fmt: skip
    elif roll < 0.16:
        data.adjustments.append(
            {"id": len(data.adjustments) + 1, "purchase_id": n, "source": "pos", "external_id": f"c{n}",
             "kind": "cancel", "amount": amount, "occurred_at": at + timedelta(hours=2)}
        )  # fmt: skip
    _lot(data, rng, member_id, at, amount // 100)


def _ranks(data: Seeded, rng: random.Random, member: dict[str, Any]) -> None:
    at, rank = member["created_at"], None
    for _ in range(rng.randrange(0, 4)):
        at += timedelta(days=rng.randrange(20, 200))
        new = rng.choice([r for r in RANKS if r != rank])
        data.ranks.append(
            {"id": len(data.ranks) + 1, "member_id": member["id"], "from_rank": rank, "to_rank": new,
             "reason": "test", "changed_at": at}
        )  # fmt: skip
        rank = new
    member["rank_code"] = rank


def _lot(data: Seeded, rng: random.Random, member_id: uuid.UUID | None, at: datetime, points: int) -> None:
    if member_id is None or points <= 0:
        return
    lot_id = len(data.ledger) + 1
    expires = None if rng.random() < 0.1 else at + timedelta(days=rng.randrange(100, 400))
    data.ledger.append(
        {"id": lot_id, "member_id": member_id, "kind": "earn", "points": points, "status": "available",
         "source_event": f"e{lot_id}", "occurred_at": at, "available_at": at + timedelta(days=rng.choice([0, 30])),
         "expires_at": expires}
    )  # fmt: skip
    if rng.random() < 0.4:
        spend_id = lot_id + 1
        used = rng.randrange(1, points + 1)
        data.ledger.append(
            {"id": spend_id, "member_id": member_id, "kind": "redeem", "points": -used, "status": "available",
             "source_event": f"e{spend_id}", "occurred_at": at + timedelta(days=rng.randrange(1, 200)),
             "available_at": None, "expires_at": None}
        )  # fmt: skip
        data.consumptions.append({"entry_id": spend_id, "lot_id": lot_id, "points": used})


def _survey(data: Seeded, rng: random.Random, member_id: uuid.UUID, at: datetime) -> None:
    n = len(data.surveys) + 1
    answers = {"satisfaction": rng.choice(["1", "2", "3", "4", "5", "5", "とても良い"]),
               "recommend": rng.choice([str(v) for v in range(11)] + ["", "10点"])}  # fmt: skip
    if rng.random() < 0.2:
        del answers["recommend"]
    data.surveys.append(
        {"id": n, "member_id": member_id, "source": "mail", "external_id": f"s{n}", "survey_code": "post-purchase",
         "score": None, "answers": answers, "answered_at": at, "source_updated_at": at}
    )  # fmt: skip
