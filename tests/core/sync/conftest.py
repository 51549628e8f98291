"""A real hub store (SQLite file or PostgreSQL, real keys) with the sync engine over example connectors."""

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
from core.plugins.manager import build_plugin_manager
from core.store.database import create_hub_engine, upgrade_database
from core.sync.engine import SyncEngine
from core.sync.ingest import StoreSink
from core.sync.payloads import PayloadSealer
from core.sync.registry import ConnectorRegistry, InstanceConfig

TOKEN_ENV = "MEMBERHUB_TEST_EXAMPLE_TOKEN"
SECRET_ENV = "MEMBERHUB_TEST_EXAMPLE_WEBHOOK_SECRETS"


@dataclass
class SyncKit:
    """The store and the pieces the engine is assembled from."""

    engine: Engine
    directory: MemberDirectory
    sink: StoreSink
    dead_letters: PayloadSealer
    outbox: PayloadSealer

    def registry(self, instances: dict[str, InstanceConfig]) -> ConnectorRegistry:
        return ConnectorRegistry.from_plugins(build_plugin_manager(), instances)

    def sync_engine(self, *instances: InstanceConfig) -> SyncEngine:
        registry = self.registry({instance.name: instance for instance in instances})
        return SyncEngine(self.engine, registry, self.sink, self.dead_letters)


def example_instance(
    name: str, url: str, *, page_size: int = 20, max_attempts: int = 6, **engine_settings: object
) -> InstanceConfig:
    """An instance of the example connector pointed at a sandbox."""
    settings = {
        "base_url": url,
        "token_env": TOKEN_ENV,
        "webhook_secret_env": SECRET_ENV,
        "page_size": page_size,
        "timeout_s": 2.0,
        "max_attempts": max_attempts,
    }
    return InstanceConfig(name=name, type="example", settings=settings, **engine_settings)  # type: ignore[arg-type]


@pytest.fixture
def sync_kit(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncKit]:
    monkeypatch.setenv(TOKEN_ENV, "sandbox-token")
    monkeypatch.setenv(SECRET_ENV, "sandbox-webhook-secret")
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    provider = KeyFileProvider(tmp_path / "keys" / "keyring.json")
    provider.create(KeyRing.generate())
    ring = load_verified_ring(engine, provider)
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(tmp_path / "keys" / "ledger.jsonl"))
    kit = SyncKit(
        engine,
        directory,
        StoreSink(directory),
        PayloadSealer(engine, ring, "dead_letters"),
        PayloadSealer(engine, ring, "outbox"),
    )
    yield kit
    engine.dispose()
