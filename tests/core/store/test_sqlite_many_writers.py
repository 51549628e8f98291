"""Security test list item 38: 8 processes writing one SQLite file — no "database is locked", no lost write."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, select, text

from core.crypto.key_providers import KeyFileProvider
from core.crypto.keyring import KeyRing
from core.store.database import create_hub_engine, upgrade_database
from core.store.models import Member, OutboxMessage

WRITERS = 8
SECONDS = float(os.environ.get("MEMBERHUB_SQLITE_SOAK_S", "30"))  # a soak: MEMBERHUB_SQLITE_SOAK_S=600

_WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from core.crypto.key_providers import KeyFileProvider
    from core.crypto.sealing import MemberSealer
    from core.members.directory import MemberDirectory
    from core.members.erasure import ErasureLedger
    from core.members.keys import load_verified_ring
    from core.members.profile import MemberProfile
    from core.store.database import create_hub_engine
    from core.sync.outbox import enqueue
    from core.sync.payloads import PayloadSealer

    url, key_file, worker, seconds = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    engine = create_hub_engine(url)
    provider = KeyFileProvider(key_file)
    ring = load_verified_ring(engine, provider)
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(key_file.parent / "ledger.jsonl"))
    outbox = PayloadSealer(engine, ring, "outbox")
    members = messages = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # a read-then-write transaction: the pattern that fails at once under deferred BEGIN in WAL mode
        with engine.begin() as conn:
            ids = directory.insert_validated(
                conn, [MemberProfile(name=f"並行 {worker}-{members + i}").validated() for i in range(5)],
                datetime.now(UTC))
            for member_id in ids:
                enqueue(conn, outbox, destination=f"dest{worker % 3}", kind="member.tags",
                        idempotency_key=f"w{worker}-{member_id}", payload={"n": members}, now=datetime.now(UTC),
                        member_id=member_id)
        members += len(ids)
        messages += len(ids)
    print(members, messages)
    """
)


@pytest.mark.slow
def test_eight_processes_write_one_sqlite_file_without_locking_errors_or_lost_writes(sqlite_url, tmp_path):
    engine = create_hub_engine(sqlite_url)
    upgrade_database(engine)
    key_file = tmp_path / "keys" / "keyring.json"
    KeyFileProvider(key_file).create(KeyRing.generate())
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, sqlite_url, str(key_file), str(worker), str(SECONDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(WRITERS)
    ]
    outputs = [writer.communicate(timeout=SECONDS + 120) for writer in writers]
    for writer, (_, stderr) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, stderr[-2000:]
        assert "database is locked" not in stderr
    written = [tuple(map(int, stdout.split())) for stdout, _ in outputs]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Member)) == sum(m for m, _ in written)
        assert conn.scalar(select(func.count()).select_from(OutboxMessage)) == sum(n for _, n in written)
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert all(m > 0 for m, _ in written)
    engine.dispose()
