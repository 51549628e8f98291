"""A source's erasure and data requests: DESIGN §5's right to erasure, for what one source sent (docs/privacy.md).

A request names the customer by its id in the source; the customer's source link names the member, and the
request covers that member's whole cluster (they are one person):

- **known only through the request** — every source link of the cluster is being erased and every profile
  value of its members was set by that source (an operator's notes do not count): the cluster is erased as
  ``hub members erase`` erases it. The links stay on the erased members, so that a later delivery naming the
  customer writes nothing personal, as for any erased member.
- **known otherwise too** (another link, or a value an operator entered or another source set): only the
  source's part goes. Every profile field the source set is emptied on every member of the cluster, with the
  blind-index rows of the emptied values; an emptied field of the cluster's root takes the winning value
  another member of the cluster still holds; merge snapshots lose the source's ciphertexts; the source's
  inquiries and survey responses lose their sealed text; the erased links are deleted. Amounts, dates, the
  points ledger and ranks stay. The hub keeps one value per field, so a value another source sent and the
  erased one outranked is not stored anywhere: the remaining links are re-armed, and their next delivery (or
  a backfill) fills the emptied fields again.

A request whose customer has no link, or whose member is erased already, changes nothing, so a repeated
delivery is harmless. Every erasure is audited with the source as the actor; nothing here logs or raises a
personal value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.crypto.sealing import WrappedDataKey
from core.identity.claims import PROFILE_FIELDS, Claim, SourceRanking, stored_claims
from core.logs import get_logger
from core.members.directory import MemberDirectory, decrypt_member_row
from core.members.profile import Member, MemberProfile
from core.store import erasure as erasure_repo
from core.store import identity as identity_repo
from core.store import records as records_repo
from core.store.audit import append_audit_event

ROLE = "connector"
"""The audit role of a source acting on its own (its connector instance is the actor)."""
_COLUMN_FIELDS = {"address_ct": ("postal_code", "address")}  # other sealed columns hold the field they are named after

log = get_logger(__name__)


@dataclass(frozen=True)
class ErasureOutcome:
    """The clusters (by root) a request erased whole, and those that only lost the source's data."""

    erased: tuple[UUID, ...] = ()
    shredded: tuple[UUID, ...] = ()


@dataclass
class _Cluster:
    """One cluster as an erasure sees it: rows (root first), decrypted members, field provenance, links."""

    rows: list[Row[Any]]
    members: dict[UUID, Member]
    sources: dict[UUID, dict[str, Row[Any]]]
    links: list[Row[Any]]

    @property
    def root(self) -> UUID:
        root: UUID = self.rows[0].id
        return root

    def known_only_through(self, source: str, link_ids: Collection[int]) -> bool:
        """Whether every link is being erased and every profile value came from ``source``."""
        if any(link.id not in link_ids for link in self.links):
            return False
        return all(
            (provenance := self.sources.get(member_id, {}).get(name)) is not None and provenance.source == source
            for member_id, member in self.members.items()
            if member.profile is not None
            for name in PROFILE_FIELDS
            if getattr(member.profile, name) is not None
        )


@dataclass
class _Shred:
    """One member's profile before and after its source's fields are emptied (and, for a root, refilled)."""

    row: Row[Any]
    number: str
    before: MemberProfile
    after: MemberProfile
    cleared: list[str]
    kept: dict[str, Row[Any]]  # the provenance of the fields other sources (or operators) set
    refilled: dict[str, Claim] = field(default_factory=dict)


class SourceErasure:
    """Applies a source's erasure and data requests inside the caller's transaction."""

    def __init__(self, directory: MemberDirectory, ranking: SourceRanking, now: datetime) -> None:
        self.directory = directory
        self.sealer = directory.sealer
        self.ranking = ranking
        self.now = now

    def erase_customers(self, conn: Connection, source: str, external_ids: Sequence[str]) -> ErasureOutcome:
        """Erase what ``source`` sent about each customer, and its quarantined records of them."""
        links = records_repo.source_links(conn, ((source, external_id) for external_id in external_ids))
        outcome = self._erase_links(conn, source, {row.id: row.member_id for row in links.values()})
        erasure_repo.delete_dead_letters(conn, source, external_ids)
        return outcome

    def erase_source(self, conn: Connection, source: str) -> ErasureOutcome:
        """Erase what ``source`` sent about every customer it linked, and all of its dead letters."""
        links = erasure_repo.links_of_source(conn, source)
        outcome = self._erase_links(conn, source, {row.id: row.member_id for row in links})
        erasure_repo.delete_dead_letters(conn, source, None)
        return outcome

    def note_data_requests(self, conn: Connection, source: str, requests: Sequence[tuple[str, str | None]]) -> None:
        """Audit each (customer id, the source's request id) with the member it names, for an admin to answer."""
        linked = records_repo.linked_members(conn, ((source, external_id) for external_id, _ in requests))
        roots = identity_repo.roots(conn, set(linked.values()))
        for external_id, request_id in requests:
            member_id = linked.get((source, external_id))
            root = None if member_id is None else roots[member_id]
            detail = {"source": source, "source_request_id": request_id, "member_found": root is not None}
            self._audit(conn, "data_request", root, source, "customer data request", detail)
        log.info("customer data requests from a source, audited", source=source, count=len(requests))

    # ── per cluster ────────────────────────────────────────────────────────────────────────────────

    def _erase_links(self, conn: Connection, source: str, links: Mapping[int, UUID]) -> ErasureOutcome:
        roots = identity_repo.roots(conn, set(links.values()))
        by_root: dict[UUID, set[int]] = defaultdict(set)
        for link_id, member_id in links.items():
            by_root[roots[member_id]].add(link_id)
        erased: list[UUID] = []
        shredded: list[UUID] = []
        for root, link_ids in by_root.items():
            cluster = self._cluster(conn, root)
            if cluster is None:
                continue
            if cluster.known_only_through(source, link_ids):
                erased.append(root)
            else:
                self._shred(conn, cluster, source, link_ids)
                shredded.append(root)
        self._erase(conn, erased, source)
        if erased or shredded:
            log.info("source erasure applied", source=source, count=len(erased) + len(shredded))
        return ErasureOutcome(tuple(erased), tuple(shredded))

    def _cluster(self, conn: Connection, root: UUID) -> _Cluster | None:
        """The cluster of ``root``; ``None`` if it was erased already."""
        rows = identity_repo.cluster_rows(conn, root)
        if not rows or rows[0].status == "erased":
            return None
        members = {row.id: decrypt_member_row(self.sealer, row) for row in rows}
        sources = records_repo.field_sources(conn, members)
        return _Cluster(rows, members, sources, erasure_repo.links_of_members(conn, members))

    def _erase(self, conn: Connection, roots: Sequence[UUID], source: str) -> None:
        """Erase whole clusters, as ``hub members erase`` does (one ledger write for them all)."""
        for root, members in self.directory.erase_in(conn, roots, self.now).items():
            self._audit(conn, "erase", root, source, "erasure request", {"source": source, "members": len(members)})

    def _shred(self, conn: Connection, cluster: _Cluster, source: str, link_ids: Collection[int]) -> None:
        shreds = self._shreds(cluster, source)
        if (root := shreds.get(cluster.root)) is not None:
            self._refill(root, [shred for member_id, shred in shreds.items() if member_id != cluster.root])
        self._write(conn, shreds.values())
        self._scrub_merge_snapshots(conn, list(cluster.members), source)
        erasure_repo.delete_links(conn, link_ids)
        rearmed = [{"id": link.id, "source_updated_at": None} for link in cluster.links if link.id not in link_ids]
        records_repo.update_source_link_times(conn, rearmed)
        erasure_repo.shred_record_text(conn, source, cluster.members)
        detail = {"source": source, "fields": sum(len(shred.cleared) for shred in shreds.values())}
        self._audit(conn, "erase_source_data", cluster.root, source, "erasure request", detail)

    def _shreds(self, cluster: _Cluster, source: str) -> dict[UUID, _Shred]:
        """Each member that still has a profile, without the fields ``source`` set."""
        shreds: dict[UUID, _Shred] = {}
        for row in cluster.rows:
            member = cluster.members[row.id]
            if member.profile is None or member.member_number is None:
                continue
            provenance = cluster.sources.get(row.id, {})
            cleared = [name for name, claim in provenance.items() if claim.source == source and name in PROFILE_FIELDS]
            kept = {name: claim for name, claim in provenance.items() if name not in cleared}
            after = replace(member.profile, **dict.fromkeys(cleared))
            shreds[row.id] = _Shred(row, member.member_number, member.profile, after, cleared, kept)
        return shreds

    def _refill(self, root: _Shred, others: Iterable[_Shred]) -> None:
        """Give each emptied field of the root the winning claim among the other members' remaining values."""
        candidates = [stored_claims(other.after, other.kept, other.row.updated_at) for other in others]
        for name in root.cleared:
            best: Claim | None = None
            for claims in candidates:
                claim = claims.get(name)
                if claim is not None and claim.value is not None and self.ranking.beats(claim, best):
                    best = claim
            if best is not None:
                root.refilled[name] = best
        root.after = replace(root.after, **{name: claim.value for name, claim in root.refilled.items()})

    # ── writing ────────────────────────────────────────────────────────────────────────────────────

    def _write(self, conn: Connection, shreds: Iterable[_Shred]) -> None:
        """Re-seal the changed columns, replace the changed blind-index rows, rewrite the provenance."""
        columns: list[dict[str, Any]] = []
        old_index: list[dict[str, Any]] = []
        new_index: list[dict[str, Any]] = []
        provenance: list[dict[str, Any]] = []
        for shred in shreds:
            member_id = shred.row.id
            before, after = shred.before.sealable_fields(shred.number), shred.after.sealable_fields(shred.number)
            changed = {name: value for name, value in after.items() if value != before[name]}
            if changed:
                cipher = self.sealer.cipher_for(_wrapped_key(shred.row))
                columns.append({"id": member_id, **self.sealer.seal_fields(cipher, member_id, changed)})
            old_values, new_values = shred.before.index_values(shred.number), shred.after.index_values(shred.number)
            stale = {name: value for name, value in old_values.items() if new_values[name] != value}
            old_index += self._index_rows(member_id, stale)
            new_index += self._index_rows(member_id, {name: new_values[name] for name in stale})
            identity_repo.delete_field_sources(conn, member_id, shred.cleared)
            provenance += [
                {"member_id": member_id, "field": name, "source": claim.source, "source_updated_at": claim.at}
                for name, claim in shred.refilled.items()
            ]
        records_repo.update_member_columns(conn, columns, self.now)
        records_repo.replace_index_entries(conn, old_index, new_index)
        records_repo.upsert_field_sources(conn, provenance)

    def _scrub_merge_snapshots(self, conn: Connection, member_ids: Sequence[UUID], source: str) -> None:
        """Drop the source's ciphertexts from the unmerge snapshots of merges touching the cluster."""
        scrubbed = []
        for merge in identity_repo.merges_touching(conn, member_ids):
            snapshot = _without_source(merge.snapshot, source)
            if snapshot != merge.snapshot:
                scrubbed.append({"id": merge.id, "snapshot": snapshot})
        erasure_repo.replace_merge_snapshots(conn, scrubbed)

    def _index_rows(self, member_id: UUID, values: Mapping[str, str | None]) -> list[dict[str, Any]]:
        return [
            {"index_name": index, "key_version": version, "digest": digest, "member_id": member_id}
            for index, version, digest in self.sealer.index_entries(values)
        ]

    def _audit(
        self, conn: Connection, action: str, member_id: UUID | None, source: str, purpose: str, detail: dict[str, Any]
    ) -> None:
        append_audit_event(
            conn, occurred_at=self.now, actor=source, role=ROLE, action=action, member_id=member_id,
            purpose=purpose, detail=detail,
        )  # fmt: skip


def _without_source(snapshot: dict[str, Any], source: str) -> dict[str, Any]:
    """A merge snapshot (``core.identity.merge``) with every ciphertext whose field claim is ``source`` dropped.

    An unmerge then finds ``None`` where the merge wrote the source's value and puts back what was there before.
    """
    claims = snapshot.get("claims", {})
    columns = {
        column: {
            side: None if any(_claimed_by(claims.get(name), side, source) for name in _fields_of(column)) else blob
            for side, blob in change.items()
        }
        for column, change in snapshot.get("columns", {}).items()
    }
    return {**snapshot, "columns": columns}


def _fields_of(column: str) -> tuple[str, ...]:
    return _COLUMN_FIELDS.get(column, (column.removesuffix("_ct"),))


def _claimed_by(change: Mapping[str, Any] | None, side: str, source: str) -> bool:
    claim = None if change is None else change.get(side)
    return claim is not None and claim.get("source") == source


def _wrapped_key(row: Row[Any]) -> WrappedDataKey:
    return WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version)
