"""Key ring lifecycle against the store: verification, online KEK and index root rotation, retirement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from core.crypto.key_providers import KeyProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer, WrappedDataKey
from core.errors import KeyInUseError, WrongKeyError
from core.members.directory import MemberDirectory, utc_now
from core.members.profile import MemberProfile
from core.store import members as repo
from core.store import sync as sync_repo

Progress = Callable[[int], None]
_KEK_CHECK = "key-check:kek:"
_INDEX_CHECK = "key-check:index:"


@dataclass(frozen=True)
class KeyStatus:
    """Which key versions exist and how many stored rows use each."""

    kek_versions: list[int]
    primary_kek_version: int
    data_keys_per_kek: dict[int, int]
    index_versions: list[int]
    primary_index_version: int
    index_rows_per_version: dict[int, int]

    @property
    def rotation_pending(self) -> bool:
        """Whether some data keys are still wrapped under a non-primary KEK."""
        return any(v != self.primary_kek_version for v in self.data_keys_per_kek)


def verify_key_ring(engine: Engine, ring: KeyRing) -> None:
    """Refuse a key ring that does not belong to this database; record check values of new versions."""
    expected = {f"{_KEK_CHECK}{v}": ring.kek_check(v).hex() for v in ring.keks}
    expected |= {f"{_INDEX_CHECK}{v}": ring.index_check(v).hex() for v in ring.index_roots}
    with engine.connect() as conn:
        stored = repo.read_meta(conn, "key-check:")
        in_use = _kek_versions_in_use(conn)
    if any(key not in stored for key in expected):
        with engine.begin() as conn:
            for key, value in expected.items():
                if key not in stored:
                    repo.add_meta_if_absent(conn, key, value)
            stored = repo.read_meta(conn, "key-check:")
    for key, value in expected.items():
        if stored[key] != value:
            kind, version = key.split(":")[1:]
            raise WrongKeyError(f"the key ring does not belong to this database ({kind} key version {version} differs)")
    missing = sorted(set(in_use) - set(ring.keks))
    if missing:
        raise WrongKeyError(
            f"members use KEK version(s) {missing} that the key ring lacks; restore the key file holding them"
        )


def load_verified_ring(engine: Engine, provider: KeyProvider) -> KeyRing:
    """Load the key ring and verify it; reload once if a rotation in another process raced the first load."""
    ring = provider.load()
    try:
        verify_key_ring(engine, ring)
    except WrongKeyError:
        ring = provider.load()
        verify_key_ring(engine, ring)
    return ring


def key_status(engine: Engine, ring: KeyRing) -> KeyStatus:
    """Versions in the ring and the rows that use each."""
    with engine.connect() as conn:
        data_keys = _kek_versions_in_use(conn)
        index_rows = repo.index_versions_in_use(conn)
    return KeyStatus(
        sorted(ring.keks),
        ring.primary_kek_version,
        data_keys,
        sorted(ring.index_roots),
        ring.primary_index_version,
        index_rows,
    )


def rewrap_data_keys(
    engine: Engine, sealer: MemberSealer, *, batch_size: int = 500, progress: Progress | None = None
) -> int:
    """Re-wrap every member data key under the primary KEK, one committed batch at a time.

    Idempotent and resumable: each row is updated only if still on the version it was read with, so a
    crash, a concurrent rotator or an erasure in between never corrupts a key.
    """
    done = _rewrap_system_keys(engine, sealer)
    while True:
        with engine.begin() as conn:
            rows = repo.keys_to_rewrap(conn, sealer.ring.primary_kek_version, batch_size)
            now = utc_now()
            for row in rows:
                new = sealer.rewrap(WrappedDataKey(row.wrapped_dek, row.kek_version, row.dek_version))
                repo.replace_wrapped_key(conn, row.id, row.kek_version, new.wrapped, new.kek_version, now)
        if not rows:
            return done
        done += len(rows)
        if progress:
            progress(done)


def _rewrap_system_keys(engine: Engine, sealer: MemberSealer) -> int:
    """Re-wrap the system data keys (dead letters, outbox) under the primary KEK."""
    with engine.begin() as conn:
        rows = sync_repo.system_keys_to_rewrap(conn, sealer.ring.primary_kek_version)
        for row in rows:
            new = sealer.rewrap(WrappedDataKey(row.wrapped_key, row.kek_version))
            sync_repo.replace_system_key(conn, row.name, row.kek_version, new.wrapped, new.kek_version)
    return len(rows)


def _kek_versions_in_use(conn: Connection) -> dict[int, int]:
    """Data keys (member and system) wrapped under each KEK version."""
    counts = repo.kek_versions_in_use(conn)
    for version, count in sync_repo.system_key_versions(conn).items():
        counts[version] = counts.get(version, 0) + count
    return counts


def rotate_kek(
    engine: Engine, provider: KeyProvider, *, batch_size: int = 500, progress: Progress | None = None
) -> tuple[KeyRing, int]:
    """Add a KEK version (or resume an unfinished rotation) and re-wrap every data key under it."""
    ring = provider.load()
    status = key_status(engine, ring)
    if not status.rotation_pending:
        ring = ring.with_new_kek()
        provider.save(ring)
        verify_key_ring(engine, ring)
    return ring, rewrap_data_keys(engine, MemberSealer(ring), batch_size=batch_size, progress=progress)


def retire_kek(engine: Engine, provider: KeyProvider, version: int) -> KeyRing:
    """Remove an old KEK version from the ring; refused while any data key is still wrapped under it."""
    ring = provider.load()
    in_use = key_status(engine, ring).data_keys_per_kek.get(version, 0)
    if in_use:
        raise KeyInUseError(f"KEK version {version} still wraps {in_use} data key(s); finish `hub keys rotate` first")
    ring = ring.without_kek(version)
    provider.save(ring)
    return ring


def rotate_index_root(
    engine: Engine,
    directory: MemberDirectory,
    provider: KeyProvider,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> tuple[KeyRing, int]:
    """Add an index root version and index every member under it; old versions stay searchable."""
    ring = provider.load()
    if len(ring.index_roots) == 1:
        ring = ring.with_new_index_root()
        provider.save(ring)
    verify_key_ring(engine, ring)
    return ring, _index_members(engine, directory, MemberSealer(ring), batch_size, progress)


def reindex_members(
    engine: Engine,
    directory: MemberDirectory,
    provider: KeyProvider,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> int:
    """Rebuild every member's blind-index rows under the primary index root; returns members visited.

    For an upgrade that changes how values are normalised or adds a blind index: rows written by the
    older code would no longer match lookups. Resumable: running it again rewrites the same rows.
    """
    ring = load_verified_ring(engine, provider)
    return _index_members(engine, directory, MemberSealer(ring), batch_size, progress)


def _index_members(
    engine: Engine, directory: MemberDirectory, sealer: MemberSealer, batch_size: int, progress: Progress | None
) -> int:
    """Replace every member's index rows of the sealer's primary index version, one batch per transaction."""
    version = sealer.indexer.primary_version
    after, done = None, 0
    while True:
        with engine.begin() as conn:
            rows = repo.members_after(conn, after, batch_size)
            for row in rows:
                member = directory.decrypt_row(row)
                if member.profile is None or member.member_number is None:
                    continue
                values = MemberProfile.index_values(member.profile, member.member_number)
                entries = [
                    {
                        "index_name": index,
                        "key_version": version,
                        "digest": sealer.indexer.digest(index, value, version),
                        "member_id": row.id,
                    }
                    for index, value in values.items()
                    if value
                ]
                repo.replace_index_rows(conn, row.id, version, entries)
        if not rows:
            return done
        after, done = rows[-1].id, done + len(rows)
        if progress:
            progress(done)


def retire_index_root(engine: Engine, provider: KeyProvider, version: int) -> KeyRing:
    """Drop an old index root version and its rows once every member is indexed under the primary."""
    ring = provider.load()
    if version == ring.primary_index_version:
        raise KeyInUseError(f"index root version {version} is the primary; rotate first")
    with engine.connect() as conn:
        lacking = repo.members_missing_index_version(conn, ring.primary_index_version)
    if lacking:
        raise KeyInUseError(
            f"{lacking} member(s) lack blind indexes under version {ring.primary_index_version}; "
            "run `hub keys rotate --index` again"
        )
    with engine.begin() as conn:
        repo.drop_index_version(conn, version)
    ring = ring.without_index_root(version)
    provider.save(ring)
    return ring
