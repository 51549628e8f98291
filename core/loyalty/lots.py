"""Lots: earned or credited points, each spendable from one moment and lapsing at another; pure allocation.

Spending takes whole or partial lots, those that lapse first before the others (lots that never lapse come
last), then the earliest spendable, then the oldest. The same order serves redemptions, negative
adjustments and reversals, so what remains is what lapses last.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass
class Lot:
    """A lot and the points still left in it (``remaining`` goes down as it is spent in memory)."""

    id: int
    member_id: UUID
    remaining: int
    available_at: datetime
    expires_at: datetime | None

    def spendable(self, now: datetime) -> bool:
        """Whether the lot may be redeemed now: out of its pending window and not lapsed."""
        return self.available_at <= now and not self.lapsed(now)

    def lapsed(self, now: datetime) -> bool:
        """Whether the lot's points have lapsed by ``now`` (whether or not the expiry job wrote it yet)."""
        return self.expires_at is not None and self.expires_at <= now

    def spend_order(self) -> tuple[bool, datetime, datetime, int]:
        """Sort key: lapsing first, never-lapsing last; then the earliest spendable; then the oldest."""
        return (self.expires_at is None, self.expires_at or self.available_at, self.available_at, self.id)


def take(lots: Iterable[Lot], points: int) -> list[tuple[Lot, int]]:
    """Take up to ``points`` from ``lots`` in the order given; returns (lot, points taken) and lowers each lot."""
    taken: list[tuple[Lot, int]] = []
    for lot in lots:
        if points <= 0:
            break
        part = min(lot.remaining, points)
        if part > 0:
            lot.remaining -= part
            points -= part
            taken.append((lot, part))
    return taken


def in_spend_order(lots: Iterable[Lot]) -> list[Lot]:
    """The lots sorted in the order spending takes them."""
    return sorted(lots, key=Lot.spend_order)
