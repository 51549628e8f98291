"""A real hub store (SQLite file or PostgreSQL, real keys) with the ingest sink, for identity tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, select

from core.crypto.key_providers import KeyFileProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer
from core.identity.policy import IdentityPolicy
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.keys import load_verified_ring
from core.members.profile import MemberProfile
from core.records import CanonicalRecord
from core.store import identity as identity_repo
from core.store import models
from core.store import records as repo
from core.store import reviews as reviews_repo
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


# ── identity resolution at ingest ──────────────────────────────────────────────────────────────────


@dataclass
class MatchingKit:
    """Ingest under an identity policy, and what the store says about members, clusters and the queue."""

    kit: IdentityKit
    policy: IdentityPolicy = field(default_factory=IdentityPolicy)

    def ingest(self, *records: CanonicalRecord) -> SinkResult:
        """Store one batch through a sink that uses ``policy``."""
        sink = StoreSink(self.kit.directory, source_priority=("console",), identity=self.policy)
        with self.kit.engine.begin() as conn:
            return sink.apply(conn, list(records))

    def linked(self, source: str, external_id: str) -> UUID:
        """The member a source link names (possibly merged into another)."""
        with self.kit.engine.connect() as conn:
            return repo.linked_members(conn, [(source, external_id)])[(source, external_id)]

    def root(self, source: str, external_id: str) -> UUID:
        """The cluster root of the member a source link names."""
        member_id = self.linked(source, external_id)
        with self.kit.engine.connect() as conn:
            return identity_repo.roots(conn, [member_id])[member_id]

    def profile(self, source: str, external_id: str) -> MemberProfile:
        """The decrypted profile of the cluster root of a source link."""
        profile = self.kit.directory.get(self.root(source, external_id)).profile
        assert profile is not None
        return profile

    def clusters(self) -> set[frozenset[tuple[str, str]]]:
        """Every source link, grouped by the cluster root of its member."""
        with self.kit.engine.connect() as conn:
            link = models.SourceLink
            links = conn.execute(select(link.source, link.external_id, link.member_id)).all()
            root_of = identity_repo.roots(conn, {link.member_id for link in links})
        grouped: dict[UUID, set[tuple[str, str]]] = {}
        for source, external_id, member_id in links:
            grouped.setdefault(root_of[member_id], set()).add((source, external_id))
        return {frozenset(keys) for keys in grouped.values()}

    def reviews(self) -> list[tuple[str, str | None, tuple[str, str] | None]]:
        """Open review items as (kind, identifier, (source, external_id) of the record that raised them)."""
        with self.kit.engine.connect() as conn:
            rows = reviews_repo.review_items(conn, status="open", limit=1000)
        return [(row.kind, row.identifier, (row.source, row.external_id)) for row in rows]

    def review_rows(self) -> list[Any]:
        """Every review item, all columns."""
        with self.kit.engine.connect() as conn:
            return reviews_repo.review_items(conn, limit=1000)


@pytest.fixture
def matching(identity_kit: IdentityKit) -> MatchingKit:
    return MatchingKit(identity_kit)
