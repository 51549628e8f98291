"""A member directory on a real database with a real key file."""

from __future__ import annotations

from collections.abc import Iterator
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
from core.store.database import create_hub_engine, upgrade_database


@dataclass
class DirectoryKit:
    """Everything a directory test touches."""

    engine: Engine
    provider: KeyFileProvider
    ledger: ErasureLedger

    def directory(self, *, index_bits: dict[str, int] | None = None) -> MemberDirectory:
        """A directory over the current key file (reloaded, as a new process would)."""
        ring = load_verified_ring(self.engine, self.provider)
        sealer = MemberSealer(ring, index_bits=index_bits, reload=self.provider.load)
        return MemberDirectory(self.engine, sealer, self.ledger)


@pytest.fixture
def kit(db_url: str, tmp_path: Path) -> Iterator[DirectoryKit]:
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    provider = KeyFileProvider(tmp_path / "keys" / "keyring.json", data_dir=tmp_path / "data")
    provider.create(KeyRing.generate())
    yield DirectoryKit(engine, provider, ErasureLedger(tmp_path / "keys" / "erasure-ledger.jsonl"))
    engine.dispose()


@pytest.fixture
def directory(kit: DirectoryKit) -> MemberDirectory:
    return kit.directory()
