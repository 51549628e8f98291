"""Opening a hub: settings → key ring → engine → schema check → member directory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal
from uuid import UUID

import pluggy
from sqlalchemy import Engine

from core.crypto.key_providers import KeyFileProvider, KeyProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer
from core.errors import ConfigError, KeyFileError, NotInitialisedError
from core.events import DomainEvent
from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.loyalty import LoyaltyEngine, PointsMovement, load_rules, rules_file
from core.loyalty.nightly import JobRun, run_nightly
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.keys import load_verified_ring
from core.plugins.manager import build_plugin_manager, plugin_manager, publish_events
from core.store.database import create_hub_engine, require_current_schema, upgrade_database
from core.sync.consent_messages import ConsentMessages
from core.sync.contract import OutboundWriter
from core.sync.engine import SyncEngine
from core.sync.ingest import StoreSink
from core.sync.locks import stream_lock
from core.sync.outbox import OutboxDispatcher
from core.sync.payloads import PayloadSealer
from core.sync.profile_messages import ProfileMessages
from core.sync.registry import ConnectorRegistry
from hub.config import HubConfig, load_hub_config
from hub.settings import HubSettings

NIGHTLY_JOBS_LOCK = "loyalty/nightly-jobs"


@dataclass
class Hub:
    """An open hub: what the CLI, the web app and the workers share."""

    settings: HubSettings
    engine: Engine
    key_provider: KeyProvider
    ring: KeyRing
    members: MemberDirectory
    extra_plugins: tuple[str, ...] = ()

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()

    @cached_property
    def config(self) -> HubConfig:
        """The validated ``hub.toml`` (no connectors when the file does not exist)."""
        return load_hub_config(self.settings.config_file)

    @cached_property
    def plugins(self) -> pluggy.PluginManager:
        """The installed plugins (entry points) and the hub's extra ones."""
        return build_plugin_manager(extra_plugins=self.extra_plugins)

    def run_loyalty_jobs(self) -> list[JobRun]:
        """The nightly loyalty jobs as of now, one run at a time across processes (``StreamBusyError`` if busy)."""
        loyalty = self.loyalty
        with stream_lock(self.engine, NIGHTLY_JOBS_LOCK):
            return run_nightly(self.engine, loyalty, self.members.sealer, loyalty.clock(), self.publish)

    def move_points(
        self, member_id: UUID, kind: Literal["redeem", "adjust"], points: int, reason: str, source_event: str
    ) -> PointsMovement:
        """Redeem or adjust the points of a member's cluster in one transaction, then publish what moved."""
        move = self.loyalty.redeem if kind == "redeem" else self.loyalty.adjust
        with self.engine.begin() as conn:
            moved = move(conn, member_id, points, reason, source_event)
        self.publish(moved.events)
        return moved

    def publish(self, events: Iterable[DomainEvent]) -> None:
        """Tell the plugins' domain-event observers about committed changes."""
        publish_events(self.plugins, events)

    @cached_property
    def registry(self) -> ConnectorRegistry:
        """Connector types from the plugins, instances from ``hub.toml``."""
        registry = ConnectorRegistry.from_plugins(self.plugins, self.config.connectors)
        registry.validate_all()
        return registry

    @cached_property
    def loyalty(self) -> LoyaltyEngine:
        """The loyalty program under the hub's rules file (validated on first use), on the hub's clock."""
        rules = load_rules(rules_file(self.settings.loyalty_rules, self.settings.home))
        return LoyaltyEngine(rules, self.members.clock, outbox=self.outbox)

    @cached_property
    def merges(self) -> MemberMerges:
        """Merges and unmerges, settling points and ranks and publishing to the plugins."""
        ranking = SourceRanking(self.config.source_priority)
        return MemberMerges(self.engine, self.members, ranking, self.publish, self.loyalty)

    @cached_property
    def dead_letters(self) -> PayloadSealer:
        """Seals and opens dead-letter payloads."""
        return PayloadSealer(self.engine, self.ring, "dead_letters")

    @cached_property
    def outbox(self) -> PayloadSealer:
        """Seals and opens outbox payloads."""
        return PayloadSealer(self.engine, self.ring, "outbox")

    @cached_property
    def sink(self) -> StoreSink:
        """Where synced records go."""
        return StoreSink(
            self.members,
            source_priority=self.config.source_priority,
            identity=self.config.identity,
            loyalty=self.loyalty,
            consent=ConsentMessages(self.config.consent.destinations, self.outbox),
            profiles=ProfileMessages(self.config.profiles.destinations, self.outbox),
        )

    @cached_property
    def dispatcher(self) -> OutboxDispatcher:
        """Pushes outbox messages to each destination's writer (connectors built once, in-process)."""
        writers: dict[str, OutboundWriter] = {}

        def writer_for(destination: str) -> OutboundWriter:
            if destination not in writers:
                connector = self.registry.build(destination)
                if not isinstance(connector, OutboundWriter):
                    raise ConfigError(f"connector {destination!r} cannot receive outbound changes")
                writers[destination] = connector
            return writers[destination]

        return OutboxDispatcher(self.engine, self.outbox, writer_for)

    @cached_property
    def sync(self) -> SyncEngine:
        """The sync engine over this hub's store and connectors."""
        return SyncEngine(
            self.engine,
            self.registry,
            self.sink,
            self.dead_letters,
            extra_plugins=self.extra_plugins,
            publish=self.publish,
        )


def key_provider_for(settings: HubSettings) -> KeyProvider:
    """The key provider chosen through the plugin hook (built-in: env variable or key file)."""
    provider: KeyProvider = plugin_manager().hook.memberhub_key_provider(settings=settings)
    if isinstance(provider, KeyFileProvider):
        check_key_location(provider.path)
    return provider


def check_key_location(key_file: Path) -> None:
    """Refuse a key file inside a source checkout, where a commit or a push would carry it away."""
    key_dir = key_file.parent
    for folder in (key_dir, *key_dir.parents):
        if (folder / ".git").exists():
            raise KeyFileError(
                f"Key file {key_file} lies inside the source checkout {folder}; set HUB_KEY_FILE to a path outside it"
            )


def init_hub(settings: HubSettings) -> tuple[Hub, bool]:
    """Create the data directory, the key file (if absent) and the schema; safe to run again."""
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    provider = key_provider_for(settings)
    created = False
    if isinstance(provider, KeyFileProvider) and not provider.path.exists():
        provider.create(KeyRing.generate())
        created = True
    engine = create_hub_engine(settings.database_url)
    upgrade_database(engine)
    hub = _assemble(settings, engine, provider)
    # Building the sealers creates their system keys now: created on first use inside an open SQLite write
    # transaction, a key's own transaction would wait for that one forever. (An assert would vanish under -O.)
    _ = (hub.dead_letters, hub.outbox)
    return hub, created


def open_hub(settings: HubSettings) -> Hub:
    """Open an initialised hub; one clear error if the database, schema or key ring is missing or wrong."""
    engine = connect_database(settings)
    provider = key_provider_for(settings)
    try:
        require_current_schema(engine)
        return _assemble(settings, engine, provider)
    except Exception:
        engine.dispose()
        raise


def connect_database(settings: HubSettings) -> Engine:
    """An engine on the hub database; refuses to create an empty SQLite file by accident."""
    if settings.is_sqlite and not _sqlite_path(settings.database_url).exists():
        raise NotInitialisedError(f"no hub database in {settings.home} — run `hub init` first")
    return create_hub_engine(settings.database_url)


def _assemble(settings: HubSettings, engine: Engine, provider: KeyProvider) -> Hub:
    ring = load_verified_ring(engine, provider)
    sealer = MemberSealer(ring, reload=provider.load)
    directory = MemberDirectory(engine, sealer, ErasureLedger(settings.erasure_ledger))
    directory.apply_erasure_ledger()
    return Hub(settings, engine, provider, ring, directory, extra_plugins=settings.plugins)


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))
