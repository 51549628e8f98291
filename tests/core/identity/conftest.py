"""A real hub store (SQLite file or PostgreSQL, real keys) with the ingest sink, for identity tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.crypto.key_providers import KeyFileProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.keys import load_verified_ring
from core.records import CanonicalRecord
from core.store.database import create_hub_engine, upgrade_database
from core.sync.ingest import StoreSink
from core.sync.sink import SinkResult


@dataclass
class IdentityKit:
    """The store, its directory and an ingest sink writing into it."""

    engine: Engine
    directory: MemberDirectory
    sink: StoreSink

    def ingest(self, records: Sequence[CanonicalRecord]) -> SinkResult:
        """Store one batch as the sync engine would, in one transaction."""
        with self.engine.begin() as conn:
            return self.sink.apply(conn, records)


@pytest.fixture
def identity_kit(db_url: str, tmp_path: Path) -> Iterator[IdentityKit]:
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    provider = KeyFileProvider(tmp_path / "keys" / "keyring.json")
    provider.create(KeyRing.generate())
    ring = load_verified_ring(engine, provider)
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(tmp_path / "keys" / "ledger.jsonl"))
    yield IdentityKit(engine, directory, StoreSink(directory, source_priority=("console",)))
    engine.dispose()
