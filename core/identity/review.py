"""The review queue: possible duplicates a supervisor accepts (merge) or rejects (never asked again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, Row

from core.errors import InvalidInputError
from core.identity.matching import ReviewKind
from core.identity.service import MemberMerges
from core.members.audit import Actor
from core.store import identity as identity_repo
from core.store import reviews as repo
from core.store.database import read_only

REVIEW_KINDS_EXPLAINED = {
    ReviewKind.SAME_NAME_BIRTHDAY: "same name and birthday",
    ReviewKind.PHONE_NAME_DIFFERS: "same phone number, different name",
    ReviewKind.UNVERIFIED_EMAIL: "same email address, not verified",
    ReviewKind.OVER_LIMIT: "identifier shared by too many members",
    ReviewKind.VETOED: "matches a pair a supervisor separated",
    "unmerged": "separated by a supervisor",
}


@dataclass(frozen=True)
class ReviewEntry:
    """One queued pair; ``kind`` names the evidence (``REVIEW_KINDS_EXPLAINED``), never its values."""

    id: int
    member_id: UUID
    candidate_id: UUID
    kind: str
    identifier: str | None
    source: str | None
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None
    merge_id: int | None

    @property
    def evidence(self) -> str:
        """The kind of evidence in words."""
        return REVIEW_KINDS_EXPLAINED.get(self.kind, self.kind)


class ReviewQueue:
    """Lists and decides review items; an accepted pair is merged (the older member survives)."""

    def __init__(self, engine: Engine, merges: MemberMerges) -> None:
        self.engine = engine
        self.merges = merges

    def items(self, *, status: str | None = "open", limit: int = 50, after_id: int | None = None) -> list[ReviewEntry]:
        """Items in queue order, ``limit`` at a time after ``after_id``; ``status=None`` lists every status."""
        with read_only(self.engine).connect() as conn:
            rows = repo.review_items(conn, status=status, limit=limit, after_id=after_id)
        return [_entry(row) for row in rows]

    def accept(self, item_id: int, *, actor: Actor, note: str) -> int:
        """Merge the pair of an open item; returns the merge id.

        A pair that has become one member meanwhile is closed as obsolete, and the error says so.
        """
        with self.engine.begin() as conn:
            item = self._open_item(conn, item_id)
            roots = identity_repo.roots(conn, [item.member_id, item.candidate_id])
            pair = {roots[item.member_id], roots[item.candidate_id]}
            if len(pair) == 1:
                self._decide(conn, item_id, "obsolete", actor, note, None)
                outcome = None
            else:
                survivor, merged = min(pair), max(pair)  # ids are time-ordered: the older member survives
                reason = f"review #{item_id} ({_entry(item).evidence}): {note}"
                outcome = self.merges.merge_in(conn, survivor, merged, actor=actor, reason=reason, kind="review")
                self._decide(conn, item_id, "accepted", actor, note, outcome.merge_id)
        if outcome is None:
            raise InvalidInputError(f"review item #{item_id}: the two members are already one member")
        self.merges.publish(outcome.events)
        return outcome.merge_id

    def reject(self, item_id: int, *, actor: Actor, note: str) -> None:
        """Record that the pair are different people; identity resolution never merges them on its own."""
        with self.engine.begin() as conn:
            self._open_item(conn, item_id)
            self._decide(conn, item_id, "rejected", actor, note, None)

    def _open_item(self, conn: Connection, item_id: int) -> Row[Any]:
        item = repo.review_item(conn, item_id)
        if item is None:
            raise InvalidInputError(f"no review item #{item_id}")
        if item.status != "open":
            raise InvalidInputError(f"review item #{item_id} is already {item.status}")
        return item

    def _decide(
        self, conn: Connection, item_id: int, status: str, actor: Actor, note: str, merge_id: int | None
    ) -> None:
        now = self.merges.directory.clock()
        repo.decide_review_item(
            conn, item_id, status=status, decided_by=actor.name, note=note or None, merge_id=merge_id, now=now
        )


def _entry(row: Row[Any]) -> ReviewEntry:
    return ReviewEntry(
        row.id, row.member_id, row.candidate_id, row.kind, row.identifier, row.source, row.status, row.created_at,
        row.decided_at, row.decided_by, row.decision_note, row.merge_id,
    )  # fmt: skip
