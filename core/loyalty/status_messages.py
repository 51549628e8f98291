"""The member status job: the systems of ``[member_status]`` kept told of each cluster's loyalty status.

A status is what an agent in the helpdesk or a mailer's template needs of a member: member number, rank, the
rank's benefit ``flags`` (``priority_reservation``, ``rank_only_sale``: benefits beyond points), points
available and pending, the next expiry and its points, and segments. Each message also carries ``rank_flags``,
every flag the rules give any rank, so a writer that adds tags one by one knows which to take away. For every
destination, the job compares each cluster root's status (with the cluster's customer ids there) with the digest
of what that destination was last told, and writes only the changes, as ``member.loyalty`` outbox messages of up
to 500 entries, one per customer id. A first run tells everything once; a run with nothing changed writes
nothing. Clusters without a customer id in the destination are skipped: the destination could not address them.

Payloads hold member numbers (sealed in the outbox, never logged); they are decrypted only for changed clusters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, select

from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.errors import ConfigError
from core.loyalty.rules import LoyaltyRules
from core.store import loyalty_status as repo
from core.store import segments as segments_repo
from core.store.loyalty import MEMBERS, among
from core.sync import outbox
from core.sync.contract import STATUS_MESSAGE
from core.sync.payloads import PayloadSealer

_CHANGES_PER_MESSAGE = 500


@dataclass(frozen=True)
class StatusOutcome:
    """What one run did: clusters looked at, entries sent (over every destination), outbox messages written."""

    members: int
    changes: int
    messages: int


def push_member_status(
    conn: Connection, rules: LoyaltyRules, now: datetime, outbox_sealer: PayloadSealer | None, sealer: MemberSealer
) -> StatusOutcome:
    """Tell every ``[member_status]`` destination the statuses that changed since it was last told."""
    destinations = rules.member_status.destinations
    if not destinations:
        return StatusOutcome(0, 0, 0)
    if outbox_sealer is None:
        raise ConfigError("the loyalty rules push member statuses to destinations, but this engine has no outbox")
    # Ids stay as the store reads them (hex text on SQLite, ``UUID`` on PostgreSQL) from query to digest row:
    # turning 200,000 of them into ``UUID`` objects and back cost a tenth of the job (profiled).
    statuses = repo.cluster_statuses(conn, now)
    segments = {member: sorted(codes) for member, codes in segments_repo.memberships(conn).items()}
    ranks = {level.code: (level.code, list(level.flags)) for level in rules.ranks.levels}
    lowest = ranks[rules.lowest.code]
    all_flags = sorted({flag for level in rules.ranks.levels for flag in level.flags})
    links = segments_repo.every_cluster_link(conn, destinations)
    changes = messages = 0
    for destination in destinations:
        told = repo.pushed_digests(conn, destination)
        linked = links[destination]
        changed: dict[Any, tuple[dict[str, Any], list[str], bytes]] = {}
        for row in statuses:
            customer_ids = linked.get(row.id)
            if customer_ids is None:
                continue
            rank, flags = ranks.get(row.rank_code, lowest)
            status = _status(row, rank, flags, segments.get(row.id, []))
            digest = _digest(status, customer_ids)
            if told.get(row.id) != digest:
                changed[row.id] = (status, customer_ids, digest)
        # by the text of the id (hex or UUID: the same order), not by UUID.__lt__, which runs in Python
        in_order = sorted(changed, key=str)
        members = {_uuid(member): changed[member] for member in in_order}
        numbers = member_numbers(conn, sealer, members)
        entries = [
            {"member_id": str(member), "customer_id": customer_id, "member_number": numbers.get(member.hex), **status}
            for member, (status, customer_ids, _) in members.items()
            for customer_id in customer_ids
        ]
        for number, start in enumerate(range(0, len(entries), _CHANGES_PER_MESSAGE)):
            messages += outbox.enqueue(
                conn, outbox_sealer, destination=destination, kind=STATUS_MESSAGE,
                idempotency_key=f"status:{destination}:{now.isoformat()}:{number}",
                payload={"changes": entries[start : start + _CHANGES_PER_MESSAGE], "rank_flags": all_flags}, now=now,
            )  # fmt: skip
        replacing = [member for member in changed if member in told]
        repo.save_digests(conn, destination, [(member, changed[member][2]) for member in in_order], now, replacing)
        changes += len(entries)
    return StatusOutcome(len(statuses), changes, messages)


def member_numbers(conn: Connection, sealer: MemberSealer, members: Iterable[UUID]) -> dict[str, str | None]:
    """The member numbers of ``members``, keyed by the id's hex; decrypted here and nowhere else."""
    wanted = list(members)
    if not wanted:
        return {}
    m = MEMBERS.c
    query = select(m.id, m.wrapped_dek, m.kek_version, m.dek_version, m.member_number_ct).where(
        among(conn, m.id, wanted)
    )
    found: dict[str, str | None] = {}
    for row in conn.execute(query):
        if row.wrapped_dek is None or row.member_number_ct is None:
            found[row.id.hex] = None
            continue
        cipher = sealer.cipher_for(WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version))
        found[row.id.hex] = sealer.open_fields(cipher, row.id, {"member_number_ct": row.member_number_ct})[
            "member_number"
        ]
    return found


def _status(row: Any, rank: str, flags: list[str], segments: list[str]) -> dict[str, Any]:
    """A cluster's status (``rank``: its rank, the lowest for a cluster never ranked or on a rank since removed)."""
    return {
        "rank": rank,
        "flags": flags,
        "points_available": int(row.available),
        "points_pending": int(row.pending),
        "expiring_points": int(row.expiring) if row.next_expiry is not None else 0,
        "expiring_at": row.next_expiry.isoformat() if row.next_expiry is not None else None,
        "segments": segments,
    }


# One encoder for every digest: ``json.dumps`` with options builds a new encoder per call.
_DIGEST_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _digest(status: Mapping[str, Any], customer_ids: list[str]) -> bytes:
    """What a destination was told of a cluster, as 16 bytes (customer ids come sorted from the store)."""
    text = _DIGEST_JSON.encode([status, customer_ids])
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _uuid(member_id: Any) -> UUID:
    """A member id as the store read it (hex text on SQLite, ``UUID`` on PostgreSQL) as a ``UUID``."""
    return member_id if isinstance(member_id, UUID) else UUID(str(member_id))
