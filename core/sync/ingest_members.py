"""Members from source records: which member a record belongs to, and the per-field merge of profiles.

A ``Profile`` goes to the cluster its source link names (the cluster's root when the linked member was
merged) and joins every cluster it strongly matches by email or phone (``core.identity.matching``); clusters
it brings together are merged into the oldest, automatically. Without a link or a match it makes a new
member. Weak evidence (same name and birthday, same phone under another name …) queues review items.

A record that only names a customer (a purchase, an inquiry …) goes to the member that customer's link
names, or to a placeholder member created with the link, which the customer's profile fills in later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.crypto.sealing import WrappedDataKey
from core.events import MemberMerged
from core.identity.claims import PROFILE_FIELDS, Claim, SourceRanking, stored_claims
from core.identity.matching import WEAK_INDEXES, Arrival, BatchMatcher, Cluster, Names
from core.identity.merge import MemberMerger
from core.identity.policy import IdentityPolicy
from core.members.directory import MemberDirectory
from core.members.profile import Member, MemberProfile
from core.normalize import normalize_member_number
from core.records import Profile
from core.store import identity as identity_repo
from core.store import members as member_repo
from core.store import records as repo
from core.store import reviews as review_repo
from core.store.records import Key
from core.sync.profile_messages import ProfileChange

_FULL_DIGEST_BYTES = 32
_EMPTY = MemberProfile(name=None)
_ACTOR = "identity resolution"
_REASONS = {
    "email": "the same verified email address",
    "phone": "the same phone number under the same name",
}


@dataclass
class _Draft:
    """One member that profiles of the batch write to: what is stored, and what the batch makes of it."""

    member_id: UUID | None = None  # None until a new member is inserted
    number: str | None = None
    key: WrappedDataKey | None = None
    base: MemberProfile = _EMPTY
    claims: dict[str, Claim] = field(default_factory=dict)
    winners: dict[str, Any] = field(default_factory=dict)
    profiles: list[tuple[Profile, MemberProfile]] = field(default_factory=list)

    def fold(self, ranking: SourceRanking) -> None:
        """Merge the batch's profiles field by field; ``None`` never erases a value, and order does not matter."""
        for record, valid in self.profiles:
            for name in PROFILE_FIELDS:
                value = getattr(valid, name)
                if value is None:
                    continue
                incoming = Claim(record.source, record.source_updated_at, value)
                if ranking.beats(incoming, self.claims.get(name)):
                    self.claims[name] = incoming
                    self.winners[name] = value

    @property
    def merged(self) -> MemberProfile:
        """The stored profile with every winning field replaced."""
        return replace(self.base, **self.winners)

    def change(self) -> ProfileChange:
        """What the batch changed of this existing member's profile, and which source set each changed field."""
        assert self.member_id is not None and self.number is not None
        merged = self.merged
        changed = {
            name: self.claims[name].source
            for name in PROFILE_FIELDS
            if getattr(merged, name) != getattr(self.base, name) and name in self.claims
        }
        return ProfileChange(self.member_id, self.number, merged, changed)


class MemberResolver:
    """Resolves one batch's records to members and writes the profile merges, in the caller's transaction.

    ``events`` collects the domain events of the merges written, to publish once the transaction commits.
    """

    def __init__(
        self, directory: MemberDirectory, ranking: SourceRanking, policy: IdentityPolicy, now: datetime
    ) -> None:
        self.directory = directory
        self.sealer = directory.sealer
        self.ranking = ranking
        self.policy = policy
        self.now = now
        self.events: list[MemberMerged] = []
        self.profile_changes: list[ProfileChange] = []
        self._rows: dict[UUID, Row[Any]] = {}
        self._members: dict[UUID, Member] = {}

    # ── profiles ───────────────────────────────────────────────────────────────────────────────────

    def write_profiles(
        self, conn: Connection, profiles: Sequence[tuple[Profile, MemberProfile]]
    ) -> tuple[int, dict[Key, UUID]]:
        """Match, merge and store validated profiles; returns rows written and the member of every profile key."""
        links = repo.source_links(conn, (_key(record) for record, _ in profiles))
        fresh = {_key(record): (record, valid) for record, valid in profiles if _is_newer(record, links)}
        matcher = self._match(conn, fresh, links)
        clusters = matcher.clusters()
        written = self._merge(conn, clusters)
        existing = {cluster.survivor: self._draft(cluster, fresh) for cluster in clusters if cluster.roots}
        new_clusters = [cluster for cluster in clusters if not cluster.roots]
        created = [self._draft(cluster, fresh) for cluster in new_clusters]
        self._load_stored(conn, existing)
        for draft in (*existing.values(), *created):
            draft.fold(self.ranking)
        written += self._write_existing(conn, existing.values()) + self._insert_new(conn, created)
        for cluster, draft in zip(new_clusters, created, strict=True):
            cluster.member_id = draft.member_id
        drafts = [*existing.values(), *created]
        self._write_links(conn, drafts, links)
        repo.upsert_field_sources(conn, self._provenance(existing.values()))
        repo.insert_field_sources(conn, self._provenance(created))
        review_repo.insert_review_items(conn, [item.review_row(self.now) for item in matcher.evidence()])
        known = {_key(record): draft.member_id for draft in drafts for record, _ in draft.profiles}
        known.update((key, links[key].member_id) for key in known.keys() & links.keys())
        return written, {key: member_id for key, member_id in known.items() if member_id is not None}

    def _match(
        self, conn: Connection, fresh: Mapping[Key, tuple[Profile, MemberProfile]], links: Mapping[Key, Row[Any]]
    ) -> BatchMatcher:
        """Place every profile into a cluster, from blind-index lookups of the whole batch."""
        arrivals = {
            key: Arrival.of(key, None, valid, email_verified=bool(record.email_verified))
            for key, (record, valid) in fresh.items()
        }
        found = self._lookup(conn, [arrival.values for arrival in arrivals.values()])
        linked = {links[key].member_id for key in fresh if key in links}
        numbered = self._numbered(conn, {key: record for key, (record, _) in fresh.items() if key not in links})
        root_of = identity_repo.roots(
            conn, linked | set(numbered.values()) | {m for ids in found.values() for m in ids}
        )
        roots = set(root_of.values())
        self._fetch(conn, roots)
        active = {root: Names.of(profile) for root in roots if (profile := self._root_profile(root))}
        holders = {wanted: {root_of[m] for m in ids} for wanted, ids in found.items()}
        vetoes = identity_repo.vetoed_pairs(conn, list(active)) if active else set()
        matcher = BatchMatcher(self.policy, active, holders, vetoes)
        for key, arrival in arrivals.items():
            if key in links:
                if (root := root_of[links[key].member_id]) in active:  # an erased member's data never comes back
                    matcher.place(replace(arrival, root=root))
            elif key in numbered and (root := root_of[numbered[key]]) in active:
                matcher.place(replace(arrival, root=root))
            else:
                matcher.place(arrival)
        return matcher

    def _numbered(self, conn: Connection, records: Mapping[Key, Profile]) -> dict[Key, UUID]:
        """The member each unlinked record's member number names, if any holds it.

        A system that stores the number the hub issued (written there by the hub, or typed from the card at a
        till) says whose record it is: the record joins that member as if it had been linked to it.
        """
        wanted = {key: normalize_member_number(r.member_number) for key, r in records.items() if r.member_number}
        digests = {number: self.sealer.lookup_digests("member_number", number) for number in set(wanted.values())}
        pairs = [pair for found in digests.values() for pair in found]
        hits = repo.member_ids_by_digests(conn, "member_number", pairs) if pairs else {}
        holders = {number: set().union(*(hits.get(d, ()) for _, d in found)) for number, found in digests.items()}
        return {key: next(iter(holders[n])) for key, n in wanted.items() if len(holders[n]) == 1}

    def _lookup(self, conn: Connection, batch: Iterable[Mapping[str, str]]) -> dict[tuple[str, str], set[UUID]]:
        """Members holding each (index, value) of the batch, one bulk lookup per blind index."""
        found: dict[tuple[str, str], set[UUID]] = {}
        for index in (*self.policy.match_on, *WEAK_INDEXES):
            wanted = {value for values in batch if (value := values.get(index)) is not None}
            digests = {value: self.sealer.lookup_digests(index, value) for value in wanted}
            hits = repo.member_ids_by_digests(conn, index, (pair for pairs in digests.values() for pair in pairs))
            for value, pairs in digests.items():
                ids = set().union(*(hits.get(digest, ()) for _, digest in pairs))
                if ids:
                    found[(index, value)] = ids
            if any(len(digest) < _FULL_DIGEST_BYTES for pairs in digests.values() for _, digest in pairs):
                self._confirm(conn, index, found)
        return found

    def _confirm(self, conn: Connection, index: str, found: dict[tuple[str, str], set[UUID]]) -> None:
        """Keep the candidates of a truncated index whose decrypted value really is the wanted one."""
        self._fetch(conn, {m for (name, _), ids in found.items() if name == index for m in ids})
        for (name, value), ids in list(found.items()):
            if name == index:
                found[(name, value)] = {m for m in ids if self._indexed_value(m, index) == value}

    def _indexed_value(self, member_id: UUID, index: str) -> str | None:
        member = self._members.get(member_id)
        if member is None or member.profile is None or member.member_number is None:
            return None
        return member.profile.index_values(member.member_number)[index]

    def _root_profile(self, member_id: UUID) -> MemberProfile | None:
        """The profile of a member read in this batch, if it is a cluster root that was not erased."""
        member = self._members.get(member_id)
        return member.profile if member and member.merged_into is None else None

    def _fetch(self, conn: Connection, member_ids: Iterable[UUID]) -> None:
        """Read and decrypt members not read yet in this batch."""
        for row in member_repo.fetch_members(conn, set(member_ids) - self._rows.keys()):
            self._rows[row.id], self._members[row.id] = row, self.directory.decrypt_row(row)

    def _merge(self, conn: Connection, clusters: Sequence[Cluster]) -> int:
        """Merge the stored roots each cluster brought together into its oldest; returns members merged."""
        merger = MemberMerger(self.sealer, self.ranking, self.now)
        merged = 0
        for cluster in clusters:
            if not (merges := cluster.merges()):
                continue
            for merged_id, identifier in merges:
                reason = f"ingest: {_REASONS[identifier]}"
                outcome = merger.merge(
                    conn, cluster.survivor, merged_id, kind="automatic", actor=_ACTOR, reason=reason,
                    identifier=identifier,
                )  # fmt: skip
                self.events.append(outcome.event)
                merged += 1
            review_repo.obsolete_reviews_between(conn, identity_repo.cluster(conn, cluster.survivor), self.now)
            for stale in (cluster.survivor, *(merged_id for merged_id, _ in merges)):
                self._rows.pop(stale, None)
                self._members.pop(stale, None)
        return merged

    def _draft(self, cluster: Cluster, fresh: Mapping[Key, tuple[Profile, MemberProfile]]) -> _Draft:
        return _Draft(cluster.member_id, profiles=[fresh[arrival.key] for arrival in cluster.arrivals])

    def _load_stored(self, conn: Connection, drafts: Mapping[UUID, _Draft]) -> None:
        """Fill drafts of existing members with their stored profile, claims and key."""
        self._fetch(conn, drafts)
        sources = repo.field_sources(conn, drafts)
        for member_id, draft in drafts.items():
            row, member = self._rows[member_id], self._members[member_id]
            assert member.profile is not None
            draft.number, draft.base, draft.key = member.member_number, member.profile, _wrapped_key(row)
            draft.claims = stored_claims(member.profile, sources.get(member_id, {}), row.updated_at)

    def _write_existing(self, conn: Connection, drafts: Iterable[_Draft]) -> int:
        """Re-seal the changed columns of existing members and replace their changed blind indexes."""
        column_rows: list[dict[str, Any]] = []
        old_entries: list[dict[str, Any]] = []
        new_entries: list[dict[str, Any]] = []
        for draft in drafts:
            assert draft.member_id is not None and draft.number is not None and draft.key is not None
            before, after = draft.base.sealable_fields(draft.number), draft.merged.sealable_fields(draft.number)
            changed = {name: value for name, value in after.items() if value != before[name]}
            if not changed:
                continue
            self.profile_changes.append(draft.change())
            cipher = self.sealer.cipher_for(draft.key)
            column_rows.append({"id": draft.member_id, **self.sealer.seal_fields(cipher, draft.member_id, changed)})
            old_index, new_index = draft.base.index_values(draft.number), draft.merged.index_values(draft.number)
            changed_indexes = [name for name, value in new_index.items() if value != old_index[name]]
            old_entries.extend(self._index_rows(draft.member_id, {n: old_index[n] for n in changed_indexes}))
            new_entries.extend(self._index_rows(draft.member_id, {n: new_index[n] for n in changed_indexes}))
        repo.update_member_columns(conn, column_rows, self.now)
        repo.replace_index_entries(conn, old_entries, new_entries)
        return len(column_rows)

    def _insert_new(self, conn: Connection, drafts: Sequence[_Draft]) -> int:
        ids = self.directory.insert_validated(conn, [draft.merged for draft in drafts], self.now)
        for draft, member_id in zip(drafts, ids, strict=True):
            draft.member_id = member_id
        return len(ids)

    def _write_links(self, conn: Connection, drafts: Sequence[_Draft], links: Mapping[Key, Row[Any]]) -> None:
        new_links, newer = [], []
        for draft in drafts:
            for record, _ in draft.profiles:
                link = links.get(_key(record))
                if link is None:
                    new_links.append(self._link_row(_key(record), draft.member_id, record.source_updated_at))
                else:
                    newer.append({"id": link.id, "source_updated_at": record.source_updated_at})
        repo.insert_source_links(conn, new_links)
        repo.update_source_link_times(conn, newer)

    def _provenance(self, drafts: Iterable[_Draft]) -> list[dict[str, Any]]:
        return [
            {"member_id": draft.member_id, "field": name, "source": claim.source, "source_updated_at": claim.at}
            for draft in drafts
            for name, claim in draft.claims.items()
            if name in draft.winners
        ]

    # ── records that name a customer ───────────────────────────────────────────────────────────────

    def resolve_customers(
        self, conn: Connection, keys: Iterable[Key], known: Mapping[Key, UUID]
    ) -> tuple[dict[Key, UUID], int]:
        """The member of every customer key; unknown customers get a placeholder member and a link.

        Returns the mapping and the number of placeholder members inserted.
        """
        wanted = set(keys)
        resolved = {key: known[key] for key in wanted if key in known}
        resolved.update(repo.linked_members(conn, wanted - resolved.keys()))
        missing = sorted(wanted - resolved.keys())
        ids = self.directory.insert_validated(conn, [_EMPTY] * len(missing), self.now)
        repo.insert_source_links(conn, [self._link_row(key, i, None) for key, i in zip(missing, ids, strict=True)])
        resolved.update(zip(missing, ids, strict=True))
        return resolved, len(ids)

    # ── rows ───────────────────────────────────────────────────────────────────────────────────────

    def _link_row(self, key: Key, member_id: UUID | None, at: datetime | None) -> dict[str, Any]:
        source, external_id = key
        return {
            "source": source,
            "external_id": external_id,
            "member_id": member_id,
            "source_updated_at": at,
            "created_at": self.now,
        }

    def _index_rows(self, member_id: UUID, values: Mapping[str, str | None]) -> list[dict[str, Any]]:
        return [
            {"index_name": index, "key_version": version, "digest": digest, "member_id": member_id}
            for index, version, digest in self.sealer.index_entries(values)
        ]


def _is_newer(record: Profile, links: Mapping[Key, Row[Any]]) -> bool:
    link = links.get(_key(record))
    return link is None or link.source_updated_at is None or record.source_updated_at > link.source_updated_at


def _wrapped_key(row: Row[Any]) -> WrappedDataKey:
    return WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version)


def _key(record: Profile) -> Key:
    return record.source, record.external_id
