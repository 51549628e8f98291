"""``hub doctor``: is this installation ready for production? One finding per check, with a fix for each failure.

Each check is a function returning :class:`Finding` objects; :func:`diagnose` runs them in order and skips
those whose prerequisite failed (no connector checks without a database, say). The checks reuse the hub's own
rules — the key provider's file checks, ``require_current_schema``, the sync engine's isolated ``check`` — so
the doctor and the hub never disagree. Findings name files, URLs without passwords and error classes only.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import redis
from kombu.utils.url import maybe_sanitize_url
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from core.crypto.key_providers import KeyFileProvider, KeyProvider
from core.errors import KeyFileError, MemberHubError, WrongKeyError
from core.loyalty import load_rules, rules_file
from core.loyalty.rules import SHIPPED_RULES
from core.members.keys import load_verified_ring
from core.store.database import require_current_schema
from core.sync.engine import SyncEngine
from core.sync.registry import InstanceConfig
from hub.config import load_hub_config
from hub.runtime import connect_database, key_provider_for, open_hub
from hub.settings import HubSettings

__all__ = [
    "CLOCK_SKEW_WARN_S",
    "Finding",
    "Status",
    "check_broker",
    "check_clock",
    "check_connectors",
    "check_database",
    "check_hub_config",
    "check_key_file",
    "check_key_ring",
    "check_loyalty_rules",
    "diagnose",
]

CLOCK_SKEW_WARN_S = 2.0
"""Skew between this machine and the database (or broker) above which the doctor warns."""
BROKER_TIMEOUT_S = 2.0
Clock = Callable[[], datetime]


class Status(StrEnum):
    """How a check went: ``FAIL`` makes ``hub doctor`` exit 1."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: what was checked, how it went, and what to do when it did not go well."""

    check: str
    status: Status
    detail: str
    hint: str = ""


def diagnose(
    settings: HubSettings, *, broker_url: str | None, clock: Clock = lambda: datetime.now(UTC)
) -> list[Finding]:
    """Every check, in order; a check whose prerequisite failed is reported as not run."""
    findings = [check_hub_config(settings), check_loyalty_rules(settings)]
    key_file, provider = check_key_file(settings)
    findings.append(key_file)
    database, engine = check_database(settings)
    findings.append(database)
    try:
        if engine is not None and provider is not None:
            findings.append(check_key_ring(engine, provider))
        else:
            findings.append(_not_run("key ring", "the key file and the database must pass first"))
        findings.append(check_broker(broker_url))
        if all(finding.status is not Status.FAIL for finding in findings):
            findings += check_connectors(settings)
        else:
            findings.append(_not_run("connectors", "the checks above must pass before connectors can be checked"))
        findings.append(
            check_clock(engine, broker_url, clock) if engine is not None else _not_run("clock", "no database")
        )
    finally:
        if engine is not None:
            engine.dispose()
    return findings


# ── configuration ──────────────────────────────────────────────────────────────────────────────────


def check_hub_config(settings: HubSettings) -> Finding:
    """``hub.toml`` parses and validates (a missing file means no connectors, which is fine)."""
    path = settings.config_file
    try:
        config = load_hub_config(path)
    except MemberHubError as error:
        return Finding("hub.toml", Status.FAIL, str(error), "fix the key named above, or set HUB_CONFIG")
    if path is None or not path.exists():
        return Finding(
            "hub.toml", Status.WARN, f"{path} not found: no connectors configured", "start from config/hub.toml"
        )
    return Finding("hub.toml", Status.OK, f"{path}: {len(config.connectors)} connector instance(s)")


def check_loyalty_rules(settings: HubSettings) -> Finding:
    """The loyalty rules file the hub would load parses and validates."""
    path = rules_file(settings.loyalty_rules, settings.home)
    try:
        load_rules(path)
    except MemberHubError as error:
        return Finding("loyalty rules", Status.FAIL, str(error), "fix the key named above, or set HUB_LOYALTY_RULES")
    if path == SHIPPED_RULES:
        hint = "copy it to $HUB_HOME/loyalty.toml (or set HUB_LOYALTY_RULES) and adapt it"
        return Finding("loyalty rules", Status.WARN, f"{path}: the shipped example rules", hint)
    return Finding("loyalty rules", Status.OK, str(path))


# ── keys ───────────────────────────────────────────────────────────────────────────────────────────


def check_key_file(settings: HubSettings) -> tuple[Finding, KeyProvider | None]:
    """The key ring loads under the provider's own rules: file present, mode 0600, outside data and checkout."""
    try:
        provider = key_provider_for(settings)
        provider.load()
    except KeyFileError as error:
        return Finding("key file", Status.FAIL, str(error), _key_file_hint(str(error), settings)), None
    except MemberHubError as error:
        return Finding("key file", Status.FAIL, str(error), "restore the key file from its backup"), None
    if isinstance(provider, KeyFileProvider):
        return Finding("key file", Status.OK, f"{provider.path}: mode 0600, outside the data directory"), provider
    return Finding("key file", Status.OK, f"keys from {provider.description}"), provider


def _key_file_hint(message: str, settings: HubSettings) -> str:
    if "readable by other users" in message:
        return f"chmod 600 {settings.key_file}"
    if "not found" in message:
        return "run `hub init`, or set HUB_KEY_FILE to the key file"
    if "inside" in message:
        return "move the key file elsewhere and set HUB_KEY_FILE to its new path"
    return "see docs/operations.md, Keys"


def check_key_ring(engine: Engine, provider: KeyProvider) -> Finding:
    """The key ring belongs to this database: its check values match those stored at ``hub init``."""
    try:
        ring = load_verified_ring(engine, provider)
    except WrongKeyError as error:
        return Finding("key ring", Status.FAIL, str(error), "set HUB_KEY_FILE to this database's key file")
    except (MemberHubError, SQLAlchemyError) as error:
        return Finding("key ring", Status.FAIL, f"cannot verify: {type(error).__name__}", "fix the checks above")
    return Finding("key ring", Status.OK, f"verified against the database (KEK v{ring.primary_kek_version} primary)")


# ── database and broker ────────────────────────────────────────────────────────────────────────────


def check_database(settings: HubSettings) -> tuple[Finding, Engine | None]:
    """The database answers and its schema is at the migration head; the engine is returned for later checks."""
    where = maybe_sanitize_url(settings.database_url)
    try:
        engine = connect_database(settings)
    except MemberHubError as error:
        return Finding("database", Status.FAIL, str(error), "run `hub init`, or set HUB_DATABASE_URL"), None
    try:
        require_current_schema(engine)
    except MemberHubError as error:
        return Finding("database", Status.FAIL, str(error), "run `hub db upgrade`"), engine
    except SQLAlchemyError as error:
        engine.dispose()
        detail = f"{where} does not answer ({type(error).__name__})"
        return Finding("database", Status.FAIL, detail, "check HUB_DATABASE_URL and that the server runs"), None
    return Finding("database", Status.OK, f"{where}: reachable, schema at the migration head"), engine


def check_broker(url: str | None) -> Finding:
    """A Redis ``PING`` within two seconds when ``HUB_BROKER_URL`` is set (the distributed mode)."""
    if not url:
        return Finding("broker", Status.OK, "n/a: HUB_BROKER_URL is not set (embedded scheduler, no workers)")
    where = maybe_sanitize_url(url)
    if not url.startswith(("redis://", "rediss://")):
        return Finding("broker", Status.WARN, f"{where}: only Redis brokers are checked", "use a redis:// URL")
    try:
        _redis(url).ping()
    except redis.RedisError as error:
        detail = f"{where} does not answer ({type(error).__name__})"
        return Finding("broker", Status.FAIL, detail, "start Redis or fix HUB_BROKER_URL")
    return Finding("broker", Status.OK, f"{where}: PING answered")


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT_S, socket_timeout=BROKER_TIMEOUT_S)


# ── connectors ─────────────────────────────────────────────────────────────────────────────────────


def check_connectors(settings: HubSettings, *, workers: int = 4) -> list[Finding]:
    """Every configured connector's ``check()``, each isolated in its own process under its deadline."""
    try:
        hub = open_hub(settings)
    except MemberHubError as error:
        return [Finding("connectors", Status.FAIL, str(error), "fix the checks above")]
    try:
        instances = hub.config.connectors
        if not instances:
            return [Finding("connectors", Status.OK, "none configured")]
        try:
            engine = hub.sync  # validates every instance's settings and secrets, once, before the checks start
        except MemberHubError as error:
            return [Finding("connectors", Status.FAIL, str(error), "fix the table named, or set its variables")]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="doctor") as pool:
            return list(pool.map(lambda instance: _check_connector(engine, instance), instances.values()))
    finally:
        hub.close()


def _check_connector(engine: SyncEngine, instance: InstanceConfig) -> Finding:
    check, table = f"connector {instance.name}", f"[connectors.{instance.name}]"
    if not instance.enabled:
        return Finding(check, Status.OK, "disabled in hub.toml; not checked")
    try:
        result = engine.check(instance.name)
    except MemberHubError as error:
        return Finding(check, Status.FAIL, str(error), f"fix {table} in hub.toml or its variables")
    if result.ok:
        return Finding(check, Status.OK, result.message)
    return Finding(check, Status.FAIL, result.message, f"check the URL and credentials of {table}")


# ── clocks ─────────────────────────────────────────────────────────────────────────────────────────


def check_clock(engine: Engine, broker_url: str | None, clock: Clock) -> Finding:
    """Skew of this machine's UTC against PostgreSQL's ``clock_timestamp()`` (and the Redis broker's ``TIME``)."""
    if engine.dialect.name != "postgresql":
        return Finding("clock", Status.OK, "n/a: SQLite uses this machine's clock")
    try:
        skews = {"database": _skew(clock, lambda: _database_now(engine))}
        if broker_url and broker_url.startswith(("redis://", "rediss://")):
            skews["broker"] = _skew(clock, lambda: _broker_now(broker_url))
    except (SQLAlchemyError, redis.RedisError) as error:
        return Finding("clock", Status.WARN, f"not measured ({type(error).__name__})", "see the checks above")
    detail = ", ".join(f"{name} {skew:+.2f} s" for name, skew in skews.items())
    if any(abs(skew) > CLOCK_SKEW_WARN_S for skew in skews.values()):
        return Finding("clock", Status.WARN, f"skew {detail}", "synchronise the clocks with NTP (chrony, timesyncd)")
    return Finding("clock", Status.OK, f"skew {detail}")


def _skew(clock: Clock, remote_now: Callable[[], datetime]) -> float:
    """Remote minus local time, the local time taken halfway through the round trip."""
    before = clock()
    remote = remote_now()
    after = clock()
    return (remote - (before + (after - before) / 2)).total_seconds()


def _database_now(engine: Engine) -> datetime:
    with engine.connect() as conn:
        now: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    return now


def _broker_now(url: str) -> datetime:
    seconds, micros = _redis(url).time()
    return datetime.fromtimestamp(seconds + micros / 1e6, UTC)


def _not_run(check: str, reason: str) -> Finding:
    """A check skipped because of an earlier failure: a warning, so that FAIL lines point at causes only."""
    return Finding(check, Status.WARN, f"not checked: {reason}", "fix the failures above first")
