"""Security test list items 1 and 16: no seeded plaintext in database files, dumps or logs."""

from __future__ import annotations

import io
import logging
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from core.crypto.key_providers import KeyFileProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer
from core.logs import configure_logging
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.keys import verify_key_ring
from core.store.database import create_hub_engine, upgrade_database
from hub.demo import demo_profiles
from tests.security.canaries import hits

SEEDED = 1_000


@pytest.fixture
def seeded_hub(db_url, tmp_path):
    log = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=log)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # SQL with bound parameters
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    provider = KeyFileProvider(tmp_path / "keys" / "keyring.json")
    provider.create(KeyRing.generate())
    ring = provider.load()
    verify_key_ring(engine, ring)
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(tmp_path / "keys" / "ledger.jsonl"))
    profiles = [p.validated() for p in demo_profiles(SEEDED, seed=99)]
    directory.add_many(profiles[:500])
    for profile in profiles[500:520]:
        directory.add(profile)  # the single-row path too
    directory.add_many(profiles[520:])
    for profile in profiles[:20]:
        assert directory.find(profile.phone) and directory.find(profile.email) and directory.find(profile.name)
    logging.getLogger("memberhub.test").exception("forced failure", exc_info=RuntimeError("boom"))
    yield engine, profiles, log
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    configure_logging()
    engine.dispose()


def test_database_files_and_logs_hold_no_plaintext(seeded_hub, db_url):
    engine, profiles, log = seeded_hub
    if engine.dialect.name == "sqlite":
        database = Path(make_url(db_url).database)
        stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert len(stored) > 100_000
    else:
        stored = _pg_dump(db_url)
        assert b"COPY public.members" in stored
    assert hits(stored, profiles) == []
    logged = log.getvalue().encode()
    assert b"INSERT INTO members" in logged, "the SQL log must have been captured for the scan to mean anything"
    assert hits(logged, profiles) == []


def _pg_dump(db_url: str) -> bytes:
    url = make_url(db_url)
    libpq = f"postgresql://{url.username}@{url.host}:{url.port or 5432}/{url.database}"
    return subprocess.run(["pg_dump", "--dbname", libpq], check=True, capture_output=True, timeout=120).stdout


def test_the_scan_finds_plaintext_in_every_form_it_claims_to_cover():
    profile = demo_profiles(1, seed=5)[0].validated()
    noise = bytes(range(256)) * 50
    for planted in (
        profile.email.encode(),
        profile.name.encode("utf-16-le"),
        profile.kana.encode().hex().encode(),
        "".join(profile.name.split()).encode(),
        b"0" + profile.phone.removeprefix("+81").encode(),
    ):
        assert hits(noise + planted + noise, [profile]), planted
