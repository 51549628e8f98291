"""Who set each profile field, and which claim on a field wins (DESIGN §4, conflicts).

Shared by ingest, which folds source records into members, and by merges, which fold two members into one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from core.members.profile import MemberProfile

PROFILE_FIELDS = ("name", "kana", "email", "phone", "postal_code", "address", "birthday")
OPERATOR_SOURCE = "console"
"""The source credited with values that have no recorded provenance: entered by an operator."""


@dataclass(frozen=True)
class Claim:
    """Where a field value came from: its source and that source's ``source_updated_at``."""

    source: str
    at: datetime


@dataclass(frozen=True)
class SourceRanking:
    """Which claim on a field wins: the higher-priority source, then the newer version."""

    priority: Sequence[str]

    def rank(self, source: str) -> int:
        """0 for the first listed source; every unlisted source shares the rank after the last listed."""
        try:
            return list(self.priority).index(source)
        except ValueError:
            return len(self.priority)

    def beats(self, incoming: Claim, stored: Claim | None) -> bool:
        """Whether ``incoming`` replaces the value ``stored`` describes."""
        if stored is None:
            return True
        incoming_rank, stored_rank = self.rank(incoming.source), self.rank(stored.source)
        return incoming_rank < stored_rank or (incoming_rank == stored_rank and incoming.at > stored.at)


def stored_claims(profile: MemberProfile, rows: Mapping[str, Row[Any]], updated_at: datetime) -> dict[str, Claim]:
    """Recorded provenance; a stored value without any was entered by an operator (``OPERATOR_SOURCE``)."""
    claims = {name: Claim(row.source, row.source_updated_at) for name, row in rows.items()}
    for name in PROFILE_FIELDS:
        if name not in claims and getattr(profile, name) is not None:
            claims[name] = Claim(OPERATOR_SOURCE, updated_at)
    return claims
