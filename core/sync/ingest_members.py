"""Members from source records: which member a record belongs to, and the per-field merge of profiles.

A ``Profile`` goes to the member its source link names; without a link, to the member with the same email,
then the same phone (exact blind-index matches); otherwise to a new member. A record that only names a
customer (a purchase, an inquiry …) goes to that customer's linked member, or to a placeholder member
created with the link, which the customer's profile fills in when it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.crypto.sealing import WrappedDataKey
from core.identity.claims import PROFILE_FIELDS, Claim, SourceRanking, stored_claims
from core.members.directory import MemberDirectory
from core.members.profile import MemberProfile
from core.normalize import normalize_email
from core.records import Profile
from core.store import members as member_repo
from core.store import records as repo
from core.store.records import Key

_FULL_DIGEST_BYTES = 32
_EMPTY = MemberProfile(name=None)


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
        """Merge the batch's profiles, in order, field by field; ``None`` never erases a value."""
        for record, valid in self.profiles:
            incoming = Claim(record.source, record.source_updated_at)
            for name in PROFILE_FIELDS:
                value = getattr(valid, name)
                if value is not None and ranking.beats(incoming, self.claims.get(name)):
                    self.claims[name] = incoming
                    self.winners[name] = value

    @property
    def merged(self) -> MemberProfile:
        """The stored profile with every winning field replaced."""
        return replace(self.base, **self.winners)


class MemberResolver:
    """Resolves one batch's records to members and writes the profile merges, in the caller's transaction."""

    def __init__(self, directory: MemberDirectory, ranking: SourceRanking, now: datetime) -> None:
        self.directory = directory
        self.sealer = directory.sealer
        self.ranking = ranking
        self.now = now

    # ── profiles ───────────────────────────────────────────────────────────────────────────────────

    def write_profiles(
        self, conn: Connection, profiles: Sequence[tuple[Profile, MemberProfile]]
    ) -> tuple[int, dict[Key, UUID]]:
        """Merge validated profiles into members; returns rows written and the member of every profile key."""
        links = repo.source_links(conn, (_key(record) for record, _ in profiles))
        existing: dict[UUID, _Draft] = {}
        unlinked: list[tuple[Profile, MemberProfile]] = []
        for record, valid in profiles:
            link = links.get(_key(record))
            if link is None:
                unlinked.append((record, valid))
            elif link.source_updated_at is None or record.source_updated_at > link.source_updated_at:
                existing.setdefault(link.member_id, _Draft(link.member_id)).profiles.append((record, valid))
        created = self._assign_unlinked(conn, unlinked, existing)
        self._load_stored(conn, existing)
        for draft in (*existing.values(), *created):
            draft.fold(self.ranking)
        written = self._write_existing(conn, existing.values()) + self._insert_new(conn, created)
        drafts = [*existing.values(), *created]
        self._write_links(conn, drafts, links)
        repo.upsert_field_sources(conn, self._provenance(existing.values()))
        repo.insert_field_sources(conn, self._provenance(created))
        known = {_key(record): draft.member_id for draft in drafts for record, _ in draft.profiles}
        return written, {key: member_id for key, member_id in known.items() if member_id is not None}

    def _assign_unlinked(
        self, conn: Connection, unlinked: Sequence[tuple[Profile, MemberProfile]], existing: dict[UUID, _Draft]
    ) -> list[_Draft]:
        """Attach unlinked profiles to a matching member, or to a new one; returns the new members' drafts."""
        emails = {valid.email: normalize_email(valid.email) for _, valid in unlinked if valid.email}
        phones = {valid.phone: valid.phone for _, valid in unlinked if valid.phone}
        by_email = self._matches(conn, "email", emails)
        by_phone = self._matches(conn, "phone", phones)
        created: list[_Draft] = []
        batch_by_email: dict[str, _Draft] = {}
        batch_by_phone: dict[str, _Draft] = {}
        for record, valid in unlinked:
            email = emails.get(valid.email) if valid.email else None
            matched = by_email.get(valid.email or "") or by_phone.get(valid.phone or "")
            if matched is not None:
                draft = existing.setdefault(matched, _Draft(matched))
            else:
                draft = batch_by_email.get(email or "") or batch_by_phone.get(valid.phone or "") or _Draft()
                if draft.member_id is None and not draft.profiles:
                    created.append(draft)
            if email:
                batch_by_email.setdefault(email, draft)
            if valid.phone:
                batch_by_phone.setdefault(valid.phone, draft)
            draft.profiles.append((record, valid))
        return created

    def _matches(self, conn: Connection, index: str, values: Mapping[str, str]) -> dict[str, UUID]:
        """The oldest member whose blind index ``index`` equals each value (keyed as given)."""
        digests = {raw: self.sealer.lookup_digests(index, wanted) for raw, wanted in values.items()}
        found = repo.member_ids_by_digests(conn, index, (pair for pairs in digests.values() for pair in pairs))
        candidates = {raw: set().union(*(found.get(d, ()) for _, d in pairs)) for raw, pairs in digests.items()}
        truncated = any(len(d) < _FULL_DIGEST_BYTES for pairs in digests.values() for _, d in pairs)
        if truncated:
            candidates = self._confirmed(conn, index, values, candidates)
        return {raw: min(ids) for raw, ids in candidates.items() if ids}  # ids are time-ordered: min is oldest

    def _confirmed(
        self, conn: Connection, index: str, values: Mapping[str, str], candidates: Mapping[str, set[UUID]]
    ) -> dict[str, set[UUID]]:
        """Candidates of a truncated index whose decrypted value really equals the wanted one."""
        rows = member_repo.fetch_members(conn, {i for ids in candidates.values() for i in ids})
        members = {row.id: self.directory.decrypt_row(row) for row in rows}
        normalize = normalize_email if index == "email" else str
        confirmed: dict[str, set[UUID]] = {}
        for raw, ids in candidates.items():
            stored = {i: getattr(members[i].profile, index, None) for i in ids if i in members}
            confirmed[raw] = {i for i, value in stored.items() if value and normalize(value) == values[raw]}
        return confirmed

    def _load_stored(self, conn: Connection, drafts: dict[UUID, _Draft]) -> None:
        """Fill drafts of existing members with their stored profile, claims and key; drops erased members."""
        rows = member_repo.fetch_members(conn, list(drafts))
        sources = repo.field_sources(conn, drafts)
        for row in rows:
            member = self.directory.decrypt_row(row)
            if member.profile is None:
                del drafts[row.id]
                continue
            draft = drafts[row.id]
            draft.number, draft.base, draft.key = member.member_number, member.profile, _wrapped_key(row)
            draft.claims = stored_claims(member.profile, sources.get(row.id, {}), row.updated_at)

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


def _wrapped_key(row: Row[Any]) -> WrappedDataKey:
    return WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version)


def _key(record: Profile) -> Key:
    return record.source, record.external_id
