"""The segments job: who is in which ``[[segments]]`` of the rules, stored, and every change told.

Every cluster root is judged against every segment. The job reads the scores of the last RFM and loyalty score
runs, so it runs after them. Each change of a cluster (segments joined and left) becomes a ``SegmentChanged``
event and, for every destination of a changed segment where the cluster has a customer id (a source link of
any of its members), one entry of a batched ``member.segments`` outbox message. A destination gets one message
per 500 changes rather than one per member: a first run over 200,000 members writes hundreds of messages, not
hundreds of thousands. An entry carries the cluster's full set of that destination's segments as well as what
it joined and left, so a writer can set tags outright.

Memberships of members that are no longer cluster roots (merged since, or erased) are dropped without a
message; memberships of segments the rules no longer define count as left.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from core.errors import ConfigError
from core.events import SegmentChanged
from core.loyalty.member_rules import MemberFacts
from core.loyalty.rules import LoyaltyRules
from core.store import loyalty_scores
from core.store import segments as repo
from core.sync import outbox
from core.sync.contract import SEGMENTS_MESSAGE
from core.sync.payloads import PayloadSealer

_CHANGES_PER_MESSAGE = 500


@dataclass(frozen=True)
class SegmentsOutcome:
    """What one run did: clusters judged, memberships joined and left, outbox messages, events to publish."""

    members: int
    joined: int
    left: int
    messages: int
    events: tuple[SegmentChanged, ...]


def recompute_segments(
    conn: Connection, rules: LoyaltyRules, now: datetime, sealer: PayloadSealer | None
) -> SegmentsOutcome:
    """Bring ``member_segments`` in line with the rules; idempotent (a second run changes and sends nothing)."""
    ranks = {level.code: level.code for level in rules.ranks.levels}
    lowest = rules.lowest.code
    tests = [(segment.code, segment.admits) for segment in rules.segments]
    stored = repo.memberships(conn)
    loyalty = loyalty_scores.scores(conn) if _tests_loyalty_score(rules) else {}
    roots, events = set(), []
    for row in repo.root_facts(conn):
        facts = MemberFacts(
            row.id, ranks.get(row.rank_code, lowest), row.recency_days, row.frequency or 0, row.monetary or 0,
            row.recency_score or 0, row.frequency_score or 0, row.monetary_score or 0, row.store_frequency or 0,
            row.online_frequency or 0, bool(row.email_opt_in), loyalty.get(row.id),
        )  # fmt: skip
        roots.add(row.id)
        wanted = {code for code, admits in tests if admits(facts)}
        held = stored.get(row.id, set())
        if wanted != held:
            joined, left = tuple(sorted(wanted - held)), tuple(sorted(held - wanted))
            events.append(SegmentChanged(now, _uuid(row.id), joined, left, tuple(sorted(wanted))))
    gone = [(_uuid(member), code) for member, codes in stored.items() if member not in roots for code in codes]
    repo.remove_memberships(conn, gone + [(e.member_id, code) for e in events for code in e.left])
    repo.add_memberships(
        conn, [{"member_id": e.member_id, "segment_code": code, "since": now} for e in events for code in e.joined]
    )
    messages = _send(conn, rules, now, sealer, events)
    joins, leaves = sum(len(e.joined) for e in events), sum(len(e.left) for e in events)
    return SegmentsOutcome(len(roots), joins, leaves, messages, tuple(events))


def _tests_loyalty_score(rules: LoyaltyRules) -> bool:
    """Whether a segment tests the loyalty score (only then are 200,000 scores read)."""
    return any(s.loyalty_score_min is not None or s.loyalty_score_max is not None for s in rules.segments)


def _uuid(raw: Any) -> UUID:
    """A member id as the store read it (hex text on SQLite, ``UUID`` on PostgreSQL) as a ``UUID``."""
    return raw if isinstance(raw, UUID) else UUID(raw)


def _send(
    conn: Connection, rules: LoyaltyRules, now: datetime, sealer: PayloadSealer | None, events: list[SegmentChanged]
) -> int:
    """Enqueue the changes for every destination of a changed segment; returns the messages written."""
    pushed: dict[str, set[str]] = defaultdict(set)  # destination → the segments it receives
    for segment in rules.segments:
        for destination in segment.destinations:
            pushed[destination].add(segment.code)
    if not events or not pushed:
        return 0
    if sealer is None:
        raise ConfigError("the loyalty rules push segment changes to destinations, but this engine has no outbox")
    links = repo.cluster_links(conn, pushed, [event.member_id for event in events])
    written = 0
    for destination, codes in sorted(pushed.items()):
        entries = list(_entries(events, codes, links[destination]))
        for number, start in enumerate(range(0, len(entries), _CHANGES_PER_MESSAGE)):
            written += outbox.enqueue(
                conn, sealer, destination=destination, kind=SEGMENTS_MESSAGE,
                idempotency_key=f"segments:{destination}:{now.isoformat()}:{number}",
                payload={"changes": entries[start : start + _CHANGES_PER_MESSAGE]}, now=now,
            )  # fmt: skip
    return written


def _entries(
    events: Iterable[SegmentChanged], codes: set[str], links: dict[UUID, list[str]]
) -> Iterable[dict[str, Any]]:
    for event in events:
        joined, left = [c for c in event.joined if c in codes], [c for c in event.left if c in codes]
        if not (joined or left):
            continue
        segments = [code for code in event.segments if code in codes]
        for customer_id in links.get(event.member_id, ()):
            yield {
                "member_id": str(event.member_id), "customer_id": customer_id, "segments": segments,
                "joined": joined, "left": left,
            }  # fmt: skip
