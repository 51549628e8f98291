"""The member directory: add, read, search and erase members in the encrypted store."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, Row

from core.crypto.sealing import MEMBER_PII_FIELDS, MemberSealer, WrappedDataKey
from core.errors import InvalidInputError, MemberErasedError, MemberNotFoundError
from core.ids import new_id
from core.members.erasure import ErasureLedger
from core.members.numbers import looks_like_member_number, new_member_number
from core.members.profile import Member, MemberProfile
from core.normalize import (
    normalize_email,
    normalize_kana,
    normalize_member_number,
    normalize_name,
    normalize_phone,
)
from core.store import identity as identity_repo
from core.store import members as repo
from core.store.database import read_only

Clock = Callable[[], datetime]
_PHONE_CHARS = set("0123456789+-() .")
_COLUMNS = tuple(f"{field}_ct" for field in MEMBER_PII_FIELDS)


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class MemberDirectory:
    """Members in the encrypted store; plaintext exists only in the objects this class returns."""

    def __init__(self, engine: Engine, sealer: MemberSealer, ledger: ErasureLedger, *, clock: Clock = utc_now):
        self.engine = engine
        self.sealer = sealer
        self.ledger = ledger
        self.clock = clock

    # ── writing ────────────────────────────────────────────────────────────────────────────────────

    def add(self, profile: MemberProfile) -> Member:
        """Validate, encrypt and store one new member."""
        member_id = self.add_many([profile])[0]
        return self.get(member_id)

    def add_many(self, profiles: Sequence[MemberProfile]) -> list[UUID]:
        """Validate, encrypt and store many new members in one transaction; returns their ids."""
        valid = [profile.validated() for profile in profiles]
        with self.engine.begin() as conn:
            return self.insert_validated(conn, valid, self.clock())

    def insert_validated(self, conn: Connection, valid: Sequence[MemberProfile], now: datetime) -> list[UUID]:
        """Encrypt and store already validated profiles in the caller's transaction; returns the new ids."""
        numbers = self._unused_member_numbers(conn, len(valid))
        member_rows: list[dict[str, object]] = []
        index_rows: list[dict[str, object]] = []
        for profile, number in zip(valid, numbers, strict=True):
            member_id = new_id()
            member_rows.append(self._sealed_row(member_id, profile, number, now))
            index_rows.extend(
                {"index_name": index, "key_version": version, "digest": digest, "member_id": member_id}
                for index, version, digest in self.sealer.index_entries(profile.index_values(number))
            )
        repo.insert_members(conn, member_rows, index_rows)
        return [row["id"] for row in member_rows]  # type: ignore[misc]

    def erase(self, member_id: UUID) -> None:
        """Crypto-shred a member: data key, ciphertexts and blind-index rows go; purchases stay anonymous.

        A member is erased with every member merged into it (its cluster): they are one person. The erasure
        ledger is written first, so a crash or a later backup restore can never resurrect them.
        """
        self._row(member_id)  # raises for an unknown id
        with self.engine.begin() as conn:
            self.erase_in(conn, [member_id], self.clock())

    def erase_in(self, conn: Connection, member_ids: Iterable[UUID], now: datetime) -> dict[UUID, list[UUID]]:
        """``erase`` the clusters of several members in the caller's transaction; returns each cluster by root.

        The ledger is flushed once, before any row changes: if the transaction then rolls back, opening the
        hub erases them anyway (``apply_erasure_ledger``), which is what was asked for.
        """
        clusters: dict[UUID, list[Row[Any]]] = {}
        for member_id in member_ids:
            if rows := identity_repo.cluster_rows(conn, member_id):
                clusters[rows[0].id] = rows
        erased = [row for rows in clusters.values() for row in rows]
        self.ledger.record_many([row.id for row in erased], now)
        for row in erased:
            repo.erase_member(conn, row.id, now)
            if row.wrapped_dek is not None:
                self.sealer.forget(_wrapped_key(row))
        return {root: [row.id for row in rows] for root, rows in clusters.items()}

    def apply_erasure_ledger(self) -> int:
        """Erase again every member in the ledger that a restored backup brought back; returns how many."""
        listed = self.ledger.member_ids()
        with self.engine.connect() as conn:
            done = repo.erased_member_ids(conn, listed)
        pending = [member_id for member_id in listed if member_id not in done]
        with self.engine.begin() as conn:
            for member_id in pending:
                repo.erase_member(conn, member_id, self.clock())
        return len(pending)

    # ── reading ────────────────────────────────────────────────────────────────────────────────────

    def get(self, member_id: UUID) -> Member:
        """One member with decrypted personal data; erased members come back without a profile."""
        return self.decrypt_row(self._row(member_id))

    def count(self) -> int:
        """Number of members that still have personal data."""
        with read_only(self.engine).begin() as conn:
            return repo.member_status_counts(conn).get("active", 0)

    def recent(self, *, limit: int) -> list[Member]:
        """The newest members, newest first."""
        with read_only(self.engine).begin() as conn:
            rows = repo.newest_members(conn, limit)
        return [self.decrypt_row(row) for row in rows]

    def find(self, query: str, *, conn: Connection | None = None) -> list[Member]:
        """Members matching a phone (any notation), email, member number or exact name/kana.

        Given ``conn``, the search reads in the caller's transaction (say, the one that audits it).
        """
        text = unicodedata.normalize("NFKC", query).strip()
        if not text:
            return []
        if "@" in text:
            return self.find_by("email", text, conn=conn)
        if looks_like_member_number(text):
            return self.find_by("member_number", text, conn=conn)
        if set(text) <= _PHONE_CHARS:
            try:
                return self.find_by("phone", text, conn=conn)
            except InvalidInputError:
                return []
        by_name = self.find_by("name", text, conn=conn)
        seen = {member.id for member in by_name}
        return by_name + [m for m in self.find_by("kana", text, conn=conn) if m.id not in seen]

    def find_by(
        self, index: str, value: str, *, follow_merges: bool = True, conn: Connection | None = None
    ) -> list[Member]:
        """Exact search through one blind index; candidates are decrypted and compared.

        A member merged into another is found by its own values too, and answered by the member it is now
        part of (its cluster root), each root once; ``follow_merges=False`` answers with the merged member.
        Reads in ``conn``'s transaction when given, else in a read-only one of its own.
        """
        wanted = _NORMALIZERS[index](value)
        with self._reading(conn) as conn:
            ids = repo.member_ids_by_digest(conn, index, self.sealer.lookup_digests(index, wanted))
            candidates = [self.decrypt_row(row) for row in repo.fetch_members(conn, ids)]
            matched = [m.id for m in candidates if m.profile and _indexed_value(m, index) == wanted]
            roots = set(identity_repo.roots(conn, matched).values()) if follow_merges else set(matched)
            members = [m for m in candidates if m.id in roots]
            members += [self.decrypt_row(row) for row in repo.fetch_members(conn, roots - {m.id for m in members})]
        return sorted((m for m in members if m.profile), key=lambda m: m.created_at)

    # ── internals ──────────────────────────────────────────────────────────────────────────────────

    def _reading(self, conn: Connection | None) -> AbstractContextManager[Connection]:
        """The caller's connection, or a read-only transaction of this directory's own.

        begin(), not connect(): the read ends in COMMIT, and psycopg forgets its prepared statements on ROLLBACK.
        """
        return nullcontext(conn) if conn is not None else read_only(self.engine).begin()

    def _row(self, member_id: UUID) -> Row[Any]:
        with read_only(self.engine).begin() as conn:
            row = repo.fetch_member(conn, member_id)
        if row is None:
            raise MemberNotFoundError(f"no member with id {member_id}")
        return row

    def _sealed_row(self, member_id: UUID, profile: MemberProfile, number: str, now: datetime) -> dict[str, object]:
        key, cipher = self.sealer.new_data_key()
        columns = self.sealer.seal_fields(cipher, member_id, profile.sealable_fields(number))
        return {
            "id": member_id,
            "status": "active",
            "dek_version": key.dek_version,
            "kek_version": key.kek_version,
            "wrapped_dek": key.wrapped,
            "created_at": now,
            "updated_at": now,
            **columns,
        }

    def _unused_member_numbers(self, conn: Connection, count: int) -> list[str]:
        numbers: list[str] = []
        while len(numbers) < count:
            fresh = list(dict.fromkeys(new_member_number() for _ in range(count - len(numbers))))
            fresh = [n for n in fresh if n not in numbers]
            digests = self.sealer.lookup_many("member_number", [normalize_member_number(n) for n in fresh])
            taken = repo.existing_digests(conn, "member_number", digests)
            numbers.extend(n for n, (_, d) in zip(fresh, digests, strict=True) if d not in taken)
        return numbers

    def resolve(self, reference: str, *, follow_merges: bool = True) -> Member:
        """The member a person names: a member number in any notation, or a member id (UUID).

        A merged member's number names the member it was merged into, unless ``follow_merges`` is off.
        """
        reference = reference.strip()
        if looks_like_member_number(reference):
            found = self.find_by("member_number", reference, follow_merges=follow_merges)
            if not found:
                raise MemberNotFoundError("no member with that member number")
            return found[0]
        try:
            member_id = UUID(reference)
        except ValueError:
            raise InvalidInputError("give a member id (UUID) or a 12-digit member number") from None
        return self.get(member_id)

    def decrypt_row(self, row: Row[Any]) -> Member:
        """A stored member row with its personal data decrypted."""
        return decrypt_member_row(self.sealer, row)

    def require_active(self, member_id: UUID) -> Member:
        """A member that still has personal data; raises ``MemberErasedError`` otherwise."""
        member = self.get(member_id)
        if member.profile is None:
            raise MemberErasedError(f"member {member_id} was erased")
        return member


def decrypt_member_row(sealer: MemberSealer, row: Row[Any]) -> Member:
    """A stored member row with its personal data decrypted (no profile once erased)."""
    merged_into = getattr(row, "merged_into", None)
    if row.status == "erased" or row.wrapped_dek is None:
        return Member(row.id, "erased", None, None, row.rank_code, row.created_at, merged_into)
    cipher = sealer.cipher_for(_wrapped_key(row))
    fields = sealer.open_fields(cipher, row.id, {column: getattr(row, column) for column in _COLUMNS})
    profile = MemberProfile.from_fields(fields)
    return Member(row.id, row.status, fields["member_number"], profile, row.rank_code, row.created_at, merged_into)


def _wrapped_key(row: Row[Any]) -> WrappedDataKey:
    return WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version)


_NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": normalize_email,
    "phone": normalize_phone,
    "member_number": normalize_member_number,
    "name": normalize_name,
    "kana": normalize_kana,
}


def _indexed_value(member: Member, index: str) -> str | None:
    profile = member.profile
    assert profile is not None
    raw = member.member_number if index == "member_number" else getattr(profile, index)
    return _NORMALIZERS[index](raw) if raw else None
