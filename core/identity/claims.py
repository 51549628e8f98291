"""Who set each profile field, and which claim on a field wins (DESIGN §4, conflicts).

Shared by ingest, which folds source records into members, and by merges, which fold two members into one.
The winner never depends on the order claims arrive in: a member's profile is the same whichever order its
records were delivered or its clusters merged in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from core.members.profile import MemberProfile

PROFILE_FIELDS = ("name", "kana", "email", "phone", "postal_code", "address", "birthday")
OPERATOR_SOURCE = "console"
"""The source credited with values that have no recorded provenance: entered by an operator."""


@dataclass(frozen=True)
class Claim:
    """Where a field value came from: its source and that source's ``source_updated_at``.

    ``value`` is the claimed value itself, the last tie-break between two claims; a claim built only to
    describe provenance (a merge snapshot) may leave it out. It is not part of equality, nor of ``repr``.
    """

    source: str
    at: datetime
    value: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SourceRanking:
    """Which claim on a field wins: the higher-priority source, then the newer version, then a fixed order.

    Between claims of equal rank and equal ``source_updated_at`` the source name, then the value, decides
    (the alphabetically first wins), so that the outcome does not depend on which claim was seen first.
    """

    priority: Sequence[str]

    def rank(self, source: str) -> int:
        """0 for the first listed source; every unlisted source shares the rank after the last listed."""
        try:
            return list(self.priority).index(source)
        except ValueError:
            return len(self.priority)

    def beats(self, incoming: Claim, stored: Claim | None) -> bool:
        """Whether ``incoming`` replaces the value ``stored`` describes; a claim never beats an equal one."""
        if stored is None:
            return True
        incoming_rank, stored_rank = self.rank(incoming.source), self.rank(stored.source)
        if incoming_rank != stored_rank:
            return incoming_rank < stored_rank
        if incoming.at != stored.at:
            return incoming.at > stored.at
        return _tie_key(incoming) < _tie_key(stored)


def stored_claims(profile: MemberProfile, rows: Mapping[str, Row[Any]], updated_at: datetime) -> dict[str, Claim]:
    """Recorded provenance; a stored value without any was entered by an operator (``OPERATOR_SOURCE``)."""
    claims = {
        name: Claim(row.source, row.source_updated_at, getattr(profile, name, None)) for name, row in rows.items()
    }
    for name in PROFILE_FIELDS:
        value = getattr(profile, name)
        if name not in claims and value is not None:
            claims[name] = Claim(OPERATOR_SOURCE, updated_at, value)
    return claims


def _tie_key(claim: Claim) -> tuple[str, str]:
    return claim.source, "" if claim.value is None else str(claim.value)
