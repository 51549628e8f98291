from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from core.crypto.key_providers import KeyFileProvider
from core.crypto.sealing import MemberSealer
from core.errors import KeyInUseError
from core.members.keys import (
    key_status,
    reindex_members,
    retire_index_root,
    retire_kek,
    rewrap_data_keys,
    rotate_index_root,
    rotate_kek,
)
from core.members.profile import MemberProfile
from core.store.models import Member as MemberRow
from core.store.models import MemberSearchIndex
from hub.demo import demo_profiles


@pytest.fixture
def seeded(kit):
    directory = kit.directory()
    ids = directory.add_many(demo_profiles(120, seed=7))
    return directory, ids


def test_rotation_rewraps_every_data_key_and_the_old_kek_is_no_longer_needed(kit, seeded):
    directory, ids = seeded
    before = {member_id: directory.get(member_id).profile for member_id in ids}
    ring, moved = rotate_kek(kit.engine, kit.provider, batch_size=25)
    assert (ring.primary_kek_version, moved) == (2, 120)
    retire_kek(kit.engine, kit.provider, 1)
    assert sorted(kit.provider.load().keks) == [2]
    after = kit.directory()
    assert {member_id: after.get(member_id).profile for member_id in ids} == before
    with kit.engine.connect() as conn:
        assert conn.scalar(select(func.count()).where(MemberRow.kek_version == 1)) == 0


def test_retiring_a_kek_still_in_use_is_refused(kit, seeded):
    with pytest.raises(KeyInUseError, match="still wraps 120 data key"):
        kit.provider.save(kit.provider.load().with_new_kek())
        retire_kek(kit.engine, kit.provider, 1)


def test_unfinished_rotation_resumes_without_adding_another_version(kit, seeded):
    ring = kit.provider.load().with_new_kek()
    kit.provider.save(ring)
    assert key_status(kit.engine, ring).rotation_pending
    ring, moved = rotate_kek(kit.engine, kit.provider)
    assert (ring.primary_kek_version, moved) == (2, 120)
    assert not key_status(kit.engine, ring).rotation_pending


def test_reads_and_writes_keep_working_while_rotation_runs(kit, seeded):
    directory, ids = seeded
    expected = {member_id: directory.get(member_id).profile.name for member_id in ids}
    failures: list[BaseException] = []
    stop = threading.Event()

    def reader(offset: int) -> None:
        # A reader that picks up the rotated key file, as a long-running web process does on a miss.
        while not stop.is_set():
            try:
                reader_directory = kit.directory()
                for member_id in ids[offset::6]:
                    assert reader_directory.get(member_id).profile.name == expected[member_id]
            except BaseException as error:
                failures.append(error)
                return

    def writer() -> None:
        count = 0
        while not stop.is_set() and count < 40:
            try:
                kit.directory().add(MemberProfile(name=f"同時 書込{count}"))
                count += 1
            except BaseException as error:
                failures.append(error)
                return

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    writer_thread = threading.Thread(target=writer)
    for thread in [*readers, writer_thread]:
        thread.start()
    try:
        ring, _ = rotate_kek(kit.engine, kit.provider, batch_size=10)
        writer_thread.join()
        rewrap_data_keys(kit.engine, MemberSealer(kit.provider.load()))  # what a stale writer added under v1
    finally:
        stop.set()
        for thread in [*readers, writer_thread]:
            thread.join()
    assert failures == []
    assert key_status(kit.engine, kit.provider.load()).data_keys_per_kek.keys() == {ring.primary_kek_version}


def test_index_root_rotation_keeps_search_working_and_retires_the_old_root(kit, seeded):
    directory, ids = seeded
    first = directory.get(ids[0]).profile
    ring, done = rotate_index_root(kit.engine, directory, kit.provider, batch_size=50)
    assert (ring.primary_index_version, done) == (2, 120)
    assert [m.id for m in kit.directory().find(first.email)] == [ids[0]]
    retire_index_root(kit.engine, kit.provider, 1)
    assert sorted(kit.provider.load().index_roots) == [2]
    status = key_status(kit.engine, kit.provider.load())
    assert set(status.index_rows_per_version) == {2}
    assert [m.id for m in kit.directory().find(first.phone)] == [ids[0]]


def test_index_root_retirement_is_refused_until_every_member_is_reindexed(kit, seeded):
    kit.provider.save(kit.provider.load().with_new_index_root())
    with pytest.raises(KeyInUseError, match="lack blind indexes"):
        retire_index_root(kit.engine, kit.provider, 1)


def test_reindex_restores_lookups_lost_to_a_normalisation_change(kit, seeded):
    directory, ids = seeded
    member = directory.get(ids[0])
    with kit.engine.begin() as conn:
        conn.execute(MemberSearchIndex.__table__.delete().where(MemberSearchIndex.member_id == ids[0]))
    assert directory.find_by("email", member.profile.email) == []

    assert reindex_members(kit.engine, directory, kit.provider, batch_size=50) == 120

    assert [m.id for m in directory.find_by("email", member.profile.email)] == [ids[0]]


def test_key_file_written_by_rotation_stays_private(kit, seeded):
    rotate_kek(kit.engine, kit.provider)
    assert kit.provider.path.stat().st_mode & 0o077 == 0
    KeyFileProvider(kit.provider.path).load()
