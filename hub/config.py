"""``hub.toml``: hub-wide settings and connector instances, validated with errors naming file and key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError
from core.identity.policy import IdentityPolicy
from core.sync.consent_messages import ConsentSettings
from core.sync.profile_messages import ProfileSettings
from core.sync.registry import InstanceConfig
from core.toml_files import read_toml

_INSTANCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_Section = TypeVar("_Section", bound=BaseModel)


class _EngineSettings(BaseModel):
    """The keys of a ``[connectors.<name>]`` table the engine reads; every other key belongs to the type."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1)
    enabled: bool = True
    schedule: str | None = None
    deadline_s: float = Field(default=900.0, gt=0, le=86_400)
    lookback_s: float = Field(default=300.0, ge=0, le=86_400)
    breaker_fail_max: int = Field(default=5, ge=1, le=1000)
    breaker_reset_s: float = Field(default=60.0, gt=0, le=86_400)


_ENGINE_KEYS = frozenset(_EngineSettings.model_fields)
DEFAULT_NIGHTLY_JOBS = "30 3 * * *"  # 03:30 in Asia/Tokyo: after the day's stores closed, before they open


class ConsoleSettings(BaseModel):
    """The ``[console]`` table: the operator console's limits and where logged inquiries go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    openings_per_hour: int = Field(default=300, ge=1, le=100_000)  # member openings per operator per hour
    inquiry_destinations: tuple[str, ...] = ()  # helpdesk connector instances that receive logged inquiries
    secure_cookies: bool = True  # False only behind plain HTTP on a non-loopback address (never in production)


class SyncSettings(BaseModel):
    """The ``[sync]`` table: how processes that run syncs (``hub sync``, ``hub worker``) share the machine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # CPU niceness (0–19) a sync process gives itself at start, inherited by its connector reader children:
    # 10 lets operator requests win the CPU over a bulk sync on a machine shared with ``hub serve`` (at 0,
    # 50 lookups/s during a full sync had a p99 of 200 ms instead of 75 ms on 2 vCPUs: docs/benchmarks.md).
    niceness: int = Field(default=10, ge=0, le=19)


@dataclass(frozen=True)
class HubConfig:
    """The parsed ``hub.toml``."""

    path: Path | None
    connectors: dict[str, InstanceConfig] = field(default_factory=dict)
    source_priority: tuple[str, ...] = ("console",)
    identity: IdentityPolicy = field(default_factory=IdentityPolicy)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    nightly_jobs: str | None = DEFAULT_NIGHTLY_JOBS
    consent: ConsentSettings = field(default_factory=ConsentSettings)
    profiles: ProfileSettings = field(default_factory=ProfileSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)


def load_hub_config(path: Path | None) -> HubConfig:
    """Read and validate ``hub.toml``; a missing file means no connectors are configured."""
    if path is None or not path.exists():
        return HubConfig(path)
    data = read_toml(path)
    hub = data.get("hub", {})
    if not isinstance(hub, dict):
        raise ConfigError(f"{path}: hub: must be a table")
    priority = hub.get("source_priority", ["console"])
    if not isinstance(priority, list) or not all(isinstance(item, str) for item in priority):
        raise ConfigError(f"{path}: hub.source_priority: must be a list of source names")
    tables = data.get("connectors", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: connectors: must be a table of connector instances")
    connectors = {name: _instance(path, name, table) for name, table in tables.items()}
    nightly = hub.get("nightly_jobs", DEFAULT_NIGHTLY_JOBS)
    if not isinstance(nightly, str):
        raise ConfigError(f"{path}: hub.nightly_jobs: a crontab in Asia/Tokyo such as '30 3 * * *', or 'off'")
    identity = _section(path, "identity", data.get("identity", {}), IdentityPolicy)
    console = _section(path, "console", data.get("console", {}), ConsoleSettings)
    consent = _section(path, "consent", data.get("consent", {}), ConsentSettings)
    profiles = _section(path, "profiles", data.get("profiles", {}), ProfileSettings)
    sync = _section(path, "sync", data.get("sync", {}), SyncSettings)
    for name, section in (("consent", consent), ("profiles", profiles)):
        unknown = sorted(set(section.destinations) - set(connectors))
        if unknown:
            raise ConfigError(f"{path}: {name}.destinations: no [connectors.{unknown[0]}] table in this file")
    nightly_jobs = None if nightly == "off" else nightly
    return HubConfig(path, connectors, tuple(priority), identity, console, nightly_jobs, consent, profiles, sync)


def _section(path: Path, name: str, table: Any, model: type[_Section]) -> _Section:
    """A top-level table validated by ``model``; an error names the key, never a value it holds."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {name}: must be a table")
    try:
        return model.model_validate(table)
    except ValidationError as error:
        raise ConfigError(f"{path}: {name}.{_first_problem(error)}") from None


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    return f"{key}: {first['msg']}"


def _instance(path: Path, name: str, table: Any) -> InstanceConfig:

    if not re.match(_INSTANCE_NAME, name):
        raise ConfigError(f"{path}: connectors.{name}: instance names use a-z, 0-9, '-' and '_' (max 64)")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: connectors.{name}: must be a table")
    try:
        engine = _EngineSettings.model_validate(table)
    except ValidationError as error:
        raise ConfigError(f"{path}: connectors.{name}.{_first_problem(error)}") from None
    settings = {key: value for key, value in table.items() if key not in _ENGINE_KEYS}
    return InstanceConfig(
        name=name,
        settings=settings,
        origin=str(path),
        **engine.model_dump(),
    )
