"""Merges and unmerges asked for by a person (console, CLI), with the audit record and the domain events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from core.errors import InvalidInputError
from core.events import DomainEvent, Publish
from core.identity.claims import SourceRanking
from core.identity.merge import MemberMerger, MergeOutcome, UnmergeOutcome
from core.loyalty import LoyaltyEngine
from core.members.audit import Actor
from core.members.directory import MemberDirectory
from core.store import identity as repo
from core.store.audit import append_audit_event
from core.store.database import read_only


@dataclass(frozen=True)
class MergeEntry:
    """One logged merge as the console and CLI list it."""

    id: int
    survivor_id: UUID
    merged_id: UUID
    kind: str
    identifier: str | None
    actor: str
    reason: str
    merged_at: datetime
    undone_at: datetime | None
    undone_by: str | None


class MemberMerges:
    """Merge, unmerge and merge history of members; every change is audited and published after commit.

    With ``loyalty``, points and ranks of the clusters a merge or unmerge changes are settled in the same
    transaction (``LoyaltyEngine.recompute_clusters``).
    """

    def __init__(
        self,
        engine: Engine,
        directory: MemberDirectory,
        ranking: SourceRanking,
        publish: Publish,
        loyalty: LoyaltyEngine | None = None,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.ranking = ranking
        self.publish = publish
        self.loyalty = loyalty

    def merge(self, survivor_id: UUID, merged_id: UUID, *, actor: Actor, reason: str, kind: str = "manual") -> int:
        """Merge the cluster of ``merged_id`` into the cluster of ``survivor_id``; returns the merge id."""
        with self.engine.begin() as conn:
            outcome = self.merge_in(conn, survivor_id, merged_id, actor=actor, reason=reason, kind=kind)
        self.publish(outcome.events)
        return outcome.merge_id

    def merge_in(
        self, conn: Connection, survivor_id: UUID, merged_id: UUID, *, actor: Actor, reason: str, kind: str
    ) -> MergeOutcome:
        """``merge`` inside the caller's transaction; the caller publishes the event after committing."""
        reason = _required_reason(reason)
        now = self.directory.clock()
        roots = repo.roots(conn, [survivor_id, merged_id])
        survivor, merged = roots[survivor_id], roots[merged_id]
        if survivor == merged:
            raise InvalidInputError("these members are already one member")
        merger = MemberMerger(self.directory.sealer, self.ranking, now)
        outcome = merger.merge(conn, survivor, merged, kind=kind, actor=actor.name, reason=reason)
        _audit(conn, actor, "merge", survivor, now, {"merge_id": outcome.merge_id, "merged_id": str(merged)})
        return replace(outcome, follow_ups=self._settle(conn, [survivor], f"merge:{outcome.merge_id}"))

    def unmerge(self, member_id: UUID, *, actor: Actor, reason: str) -> int:
        """Undo the merge that put ``member_id`` into its cluster; returns that merge's id."""
        reason = _required_reason(reason)
        now = self.directory.clock()
        with self.engine.begin() as conn:
            record = repo.latest_merge_of(conn, member_id)
            if record is None:
                raise InvalidInputError(f"member {member_id} is not merged into another member")
            merger = MemberMerger(self.directory.sealer, self.ranking, now)
            outcome: UnmergeOutcome = merger.unmerge(conn, record.id, actor=actor.name, reason=reason)
            detail = {"merge_id": outcome.merge_id, "merged_id": str(record.merged_id)}
            _audit(conn, actor, "unmerge", record.survivor_id, now, detail)
            separated = [record.survivor_id, record.merged_id]
            outcome = replace(outcome, follow_ups=self._settle(conn, separated, f"unmerge:{outcome.merge_id}"))
        self.publish(outcome.events)
        return outcome.merge_id

    def _settle(self, conn: Connection, member_ids: list[UUID], cause: str) -> tuple[DomainEvent, ...]:
        if self.loyalty is None:
            return ()
        return self.loyalty.recompute_clusters(conn, member_ids, cause=cause).events

    def history(self, member_id: UUID) -> list[MergeEntry]:
        """Every merge (undone ones included) of the members of ``member_id``'s cluster, oldest first."""
        with read_only(self.engine).connect() as conn:
            root = repo.roots(conn, [member_id])[member_id]
            rows = repo.merges_touching(conn, repo.cluster(conn, root))
        return [_entry(row) for row in rows]


def _entry(row: Any) -> MergeEntry:
    return MergeEntry(
        row.id,
        row.survivor_id,
        row.merged_id,
        row.kind,
        row.identifier,
        row.actor,
        row.reason,
        row.merged_at,
        row.undone_at,
        row.undone_by,
    )


def _required_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInputError("give a reason: it is kept in the merge log")
    if len(reason) > 500:
        raise InvalidInputError("the reason is longer than 500 characters")
    return reason


def _audit(
    conn: Connection, actor: Actor, action: str, member_id: UUID, now: datetime, detail: dict[str, object]
) -> None:
    append_audit_event(
        conn, occurred_at=now, actor=actor.name, role=actor.role, action=action, member_id=member_id, detail=detail
    )
