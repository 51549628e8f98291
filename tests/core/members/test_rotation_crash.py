"""Security test list item 9: a rotation killed with SIGKILL resumes and finishes idempotently."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from core.members.keys import key_status
from hub.demo import demo_profiles

_ROTATOR = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from core.crypto.key_providers import KeyFileProvider
    from core.crypto.sealing import MemberSealer
    from core.members.keys import key_status, rewrap_data_keys, verify_key_ring
    from core.store.database import create_hub_engine

    url, key_file, kill_after = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    engine, provider = create_hub_engine(url), KeyFileProvider(key_file)
    ring = provider.load()
    if not key_status(engine, ring).rotation_pending:
        ring = ring.with_new_kek()
        provider.save(ring)
        verify_key_ring(engine, ring)
    batches = 0
    def progress(done):
        global batches
        batches += 1
        if batches == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    rewrap_data_keys(engine, MemberSealer(ring), batch_size=20, progress=progress)
    """
)


@pytest.mark.slow
def test_rotation_killed_mid_way_resumes_to_completion(kit, db_url):
    directory = kit.directory()
    ids = directory.add_many(demo_profiles(200, seed=3))
    expected = {member_id: directory.get(member_id).profile for member_id in ids}
    key_file = str(kit.provider.path)

    for kill_after in (2, 3):  # killed twice mid-way, after 40 then 60 more rows
        result = subprocess.run([sys.executable, "-c", _ROTATOR, db_url, key_file, str(kill_after)], timeout=120)
        assert result.returncode == -signal.SIGKILL
        status = key_status(kit.engine, kit.provider.load())
        assert status.primary_kek_version == 2 and status.rotation_pending
    finished = subprocess.run([sys.executable, "-c", _ROTATOR, db_url, key_file, "0"], timeout=120)
    assert finished.returncode == 0

    status = key_status(kit.engine, kit.provider.load())
    assert status.data_keys_per_kek == {2: 200}
    reader = kit.directory()
    assert {member_id: reader.get(member_id).profile for member_id in ids} == expected
    assert [m.id for m in reader.find(expected[ids[7]].phone)] == [ids[7]]
