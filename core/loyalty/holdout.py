"""Campaign holdout groups: the members a campaign leaves out on purpose, to measure what it is worth.

A campaign with ``holdout_percent = p`` holds out every cluster root whose draw falls below ``p / 100``. The
draw is the first 8 bytes of ``sha256("<campaign code>:<member uuid>")`` read as a fraction of 2⁶⁴: uniform,
independent between campaigns, and the same on every run, machine and recompute, so no assignment is stored.
Held-out members get nothing the campaign carries; the analytics report compares them with the treated ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from uuid import UUID

__all__ = ["held_out", "in_holdout"]

_SCALE = 2**64


def in_holdout(campaign_code: str, member_id: UUID, percent: float | Decimal) -> bool:
    """Whether the cluster root ``member_id`` is in the holdout group of ``campaign_code`` (``percent`` 0–100)."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{campaign_code}:{member_id}".encode()).digest()
    # Integer comparison: draw / 2⁶⁴ < percent / 100, exactly, with no float rounding at the boundary.
    return int.from_bytes(digest[:8], "big") * 100 < Decimal(percent) * _SCALE


def held_out(campaign_code: str, member_ids: Iterable[UUID], percent: float | Decimal) -> Iterator[UUID]:
    """The members among ``member_ids`` that ``campaign_code`` holds out, in the order given."""
    if percent <= 0:
        return
    for member_id in member_ids:
        if in_holdout(campaign_code, member_id, percent):
            yield member_id
