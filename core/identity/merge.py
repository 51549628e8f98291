"""Merging two members into one, and undoing it exactly.

A merge never moves or rewrites history: the merged member keeps its row, its source links, purchases,
inquiries and ledger entries, and only points at the survivor (``members.merged_into``). What changes is the
survivor's profile, which takes every field the merged member's claim wins (DESIGN §4 conflicts), re-sealed
under the survivor's data key. The merge log keeps the survivor's replaced ciphertexts and field claims, so
an unmerge puts back exactly what the merge replaced: fields changed again since the merge keep their newer
value. An unmerge also records the pair as "not the same person", so that identity resolution never merges
them again on its own.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.errors import InvalidInputError, MemberErasedError, MemberNotFoundError
from core.events import DomainEvent, MemberMerged, MemberUnmerged
from core.identity.claims import PROFILE_FIELDS, Claim, SourceRanking, stored_claims
from core.members.directory import decrypt_member_row
from core.members.profile import Member, MemberProfile
from core.store import identity as repo
from core.store import members as member_repo
from core.store import records as records_repo

MERGE_KINDS = ("manual", "automatic", "review")


@dataclass(frozen=True)
class MergeOutcome:
    """A merge written in the caller's transaction, and the events to publish once it commits.

    ``follow_ups`` are the events of what the merge caused in the same transaction (points, ranks).
    """

    merge_id: int
    event: MemberMerged
    follow_ups: tuple[DomainEvent, ...] = ()

    @property
    def events(self) -> tuple[DomainEvent, ...]:
        """The merge's event, then its follow-ups."""
        return (self.event, *self.follow_ups)


@dataclass(frozen=True)
class UnmergeOutcome:
    """An unmerge written in the caller's transaction, and the events to publish once it commits."""

    merge_id: int
    event: MemberUnmerged
    follow_ups: tuple[DomainEvent, ...] = ()

    @property
    def events(self) -> tuple[DomainEvent, ...]:
        """The unmerge's event, then its follow-ups."""
        return (self.event, *self.follow_ups)


@dataclass
class _Side:
    """One member as the merge sees it: stored row, decrypted data, field claims."""

    row: Row[Any]
    member: Member
    profile: MemberProfile
    claims: dict[str, Claim]
    recorded: dict[str, Claim]  # the claims stored as provenance rows (the others are implied operator edits)


class MemberMerger:
    """Merges and unmerges members inside the caller's transaction; publishing the events is the caller's."""

    def __init__(self, sealer: MemberSealer, ranking: SourceRanking, now: datetime) -> None:
        self.sealer = sealer
        self.ranking = ranking
        self.now = now

    def merge(
        self,
        conn: Connection,
        survivor_id: UUID,
        merged_id: UUID,
        *,
        kind: str,
        actor: str,
        reason: str,
        identifier: str | None = None,
    ) -> MergeOutcome:
        """Merge ``merged_id`` into ``survivor_id``; both must be active cluster roots."""
        if kind not in MERGE_KINDS:
            raise ValueError(f"merge kind must be one of {', '.join(MERGE_KINDS)}")
        if survivor_id == merged_id:
            raise InvalidInputError("a member cannot be merged into itself")
        survivor, merged = self._side(conn, survivor_id), self._side(conn, merged_id)
        profile, claims = self._fold(survivor, merged)
        snapshot = self._rewrite(conn, survivor, profile, claims)
        repo.mark_merged(conn, merged_id, survivor_id)
        merge_id = repo.insert_merge(
            conn,
            {
                "survivor_id": survivor_id,
                "merged_id": merged_id,
                "kind": kind,
                "identifier": identifier,
                "actor": actor,
                "reason": reason,
                "snapshot": snapshot,
                "merged_at": self.now,
            },
        )
        return MergeOutcome(merge_id, MemberMerged(self.now, merge_id, survivor_id, merged_id, kind))

    def unmerge(self, conn: Connection, merge_id: int, *, actor: str, reason: str) -> UnmergeOutcome:
        """Undo one merge: the merged member is its own again, the survivor gets back what the merge replaced."""
        record = repo.merge_record(conn, merge_id)
        if record is None:
            raise InvalidInputError(f"no merge #{merge_id}")
        if record.undone_at is not None:
            raise InvalidInputError(f"merge #{merge_id} was already undone")
        survivor_row = member_repo.fetch_member(conn, record.survivor_id)
        if survivor_row is not None and survivor_row.merged_into is not None:
            later = repo.latest_merge_of(conn, record.survivor_id)
            hint = f" #{later.id}" if later is not None else ""
            raise InvalidInputError(f"the surviving member was merged again since; undo merge{hint} first")
        survivor = self._side(conn, record.survivor_id)
        self._restore(conn, survivor, record.snapshot)
        repo.mark_unmerged(conn, record.merged_id)
        repo.record_unmerge(conn, merge_id, actor=actor, reason=reason, now=self.now)
        repo.veto_pair(conn, record.survivor_id, record.merged_id, actor=actor, note=reason, now=self.now)
        event = MemberUnmerged(self.now, merge_id, record.survivor_id, record.merged_id)
        return UnmergeOutcome(merge_id, event)

    # ── merge ──────────────────────────────────────────────────────────────────────────────────────

    def _side(self, conn: Connection, member_id: UUID) -> _Side:
        row = member_repo.fetch_member(conn, member_id)
        if row is None:
            raise MemberNotFoundError(f"no member with id {member_id}")
        if row.merged_into is not None:
            raise InvalidInputError(f"member {member_id} is merged into {row.merged_into}; use that member")
        member = decrypt_member_row(self.sealer, row)
        if member.profile is None:
            raise MemberErasedError(f"member {member_id} was erased")
        sources = records_repo.field_sources(conn, [member_id]).get(member_id, {})
        recorded = {name: Claim(source.source, source.source_updated_at) for name, source in sources.items()}
        claims = stored_claims(member.profile, sources, row.updated_at)
        return _Side(row, member, member.profile, claims, recorded)

    def _fold(self, survivor: _Side, merged: _Side) -> tuple[MemberProfile, dict[str, Claim]]:
        """The survivor's profile with each field the merged member's claim wins; the claims that won."""
        winners: dict[str, Any] = {}
        claims: dict[str, Claim] = {}
        for name in PROFILE_FIELDS:
            value, claim = getattr(merged.profile, name), merged.claims.get(name)
            if value is None or claim is None:
                continue
            if self.ranking.beats(claim, survivor.claims.get(name)):
                winners[name], claims[name] = value, claim
        if survivor.profile.notes is None and merged.profile.notes is not None:
            winners["notes"] = merged.profile.notes  # operator notes are kept, never overwritten
        return replace(survivor.profile, **winners), claims

    def _rewrite(
        self, conn: Connection, survivor: _Side, profile: MemberProfile, claims: dict[str, Claim]
    ) -> dict[str, Any]:
        """Write the survivor's new profile and claims; returns what was replaced (the unmerge snapshot)."""
        number = survivor.member.member_number
        assert number is not None
        before = survivor.profile.sealable_fields(number)
        after = profile.sealable_fields(number)
        changed = {name: value for name, value in after.items() if value != before[name]}
        cipher = self.sealer.cipher_for(_wrapped_key(survivor.row))
        member_id = survivor.row.id
        sealed = self.sealer.seal_fields(cipher, member_id, changed)
        columns = {
            column: {"before": _b64(getattr(survivor.row, column)), "after": _b64(blob)}
            for column, blob in sealed.items()
        }
        if sealed:
            records_repo.update_member_columns(conn, [{"id": member_id, **sealed}], self.now)
            self._reindex(conn, member_id, survivor.profile, profile, number)
        records_repo.upsert_field_sources(conn, [_claim_row(member_id, name, claim) for name, claim in claims.items()])
        replaced = {
            name: {"before": _claim_json(survivor.recorded.get(name)), "after": _claim_json(claim)}
            for name, claim in claims.items()
        }
        return {"columns": columns, "claims": replaced}

    def _reindex(self, conn: Connection, member_id: UUID, old: MemberProfile, new: MemberProfile, number: str) -> None:
        old_values, new_values = old.index_values(number), new.index_values(number)
        changed = [name for name, value in new_values.items() if value != old_values[name]]
        records_repo.replace_index_entries(
            conn,
            self._index_rows(member_id, {name: old_values[name] for name in changed}),
            self._index_rows(member_id, {name: new_values[name] for name in changed}),
        )

    def _index_rows(self, member_id: UUID, values: dict[str, str | None]) -> list[dict[str, Any]]:
        return [
            {"index_name": index, "key_version": version, "digest": digest, "member_id": member_id}
            for index, version, digest in self.sealer.index_entries(values)
        ]

    # ── unmerge ────────────────────────────────────────────────────────────────────────────────────

    def _restore(self, conn: Connection, survivor: _Side, snapshot: dict[str, Any]) -> None:
        """Put back each replaced column and claim that still holds what the merge wrote."""
        member_id = survivor.row.id
        columns = {
            column: _unb64(change["before"])
            for column, change in snapshot["columns"].items()
            if getattr(survivor.row, column) == _unb64(change["after"])
        }
        if columns:
            records_repo.update_member_columns(conn, [{"id": member_id, **columns}], self.now)
            restored_row = member_repo.fetch_member(conn, member_id)
            assert restored_row is not None
            restored = decrypt_member_row(self.sealer, restored_row).profile
            assert restored is not None and survivor.member.member_number is not None
            self._reindex(conn, member_id, survivor.profile, restored, survivor.member.member_number)
        recorded = records_repo.field_sources(conn, [member_id]).get(member_id, {})
        back: list[dict[str, Any]] = []
        emptied: list[str] = []
        for name, change in snapshot["claims"].items():
            current = recorded.get(name)
            if current is None or _claim_json(Claim(current.source, current.source_updated_at)) != change["after"]:
                continue
            if change["before"] is None:
                emptied.append(name)
            else:
                back.append(_claim_row(member_id, name, _claim_from_json(change["before"])))
        records_repo.upsert_field_sources(conn, back)
        repo.delete_field_sources(conn, member_id, emptied)


def _wrapped_key(row: Row[Any]) -> WrappedDataKey:
    return WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version)


def _claim_row(member_id: UUID, name: str, claim: Claim) -> dict[str, Any]:
    return {"member_id": member_id, "field": name, "source": claim.source, "source_updated_at": claim.at}


def _claim_json(claim: Claim | None) -> dict[str, str] | None:
    return None if claim is None else {"source": claim.source, "at": claim.at.isoformat()}


def _claim_from_json(data: dict[str, str]) -> Claim:
    return Claim(data["source"], datetime.fromisoformat(data["at"]))


def _b64(blob: bytes | None) -> str | None:
    return None if blob is None else base64.b64encode(blob).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)
