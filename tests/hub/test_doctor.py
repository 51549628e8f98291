"""``hub doctor`` on real installations: all OK when healthy, a FAIL line with its fix for each broken part."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from connectors.example.sandbox import SandboxServer
from core.loyalty.rules import SHIPPED_RULES
from core.store import database
from core.store.database import create_hub_engine, database_revision, head_revision
from hub.doctor import Finding, Status, check_broker, check_clock, diagnose
from hub.runtime import init_hub
from hub.settings import HubSettings

REDIS_URL = "redis://127.0.0.1:6379/0"  # the machine's Redis; PING and TIME only, nothing is written
HUB_TOML = """
[connectors.tokyo]
type = "example"
base_url = "{url}"
token_env = "DOCTOR_TEST_TOKEN"
"""


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer(customers=2, orders=2) as server:
        monkeypatch.setenv("DOCTOR_TEST_TOKEN", server.token)
        monkeypatch.setenv("EXAMPLE_WEBHOOK_SECRETS", "s3cret")  # the connector's default variable
        yield server


@pytest.fixture
def settings(tmp_path: Path, sandbox: SandboxServer) -> HubSettings:
    """An initialised hub with its own loyalty rules and one example connector on the sandbox."""
    return _installation(tmp_path, f"sqlite:///{tmp_path / 'data' / 'hub.sqlite3'}", HUB_TOML.format(url=sandbox.url))


def _installation(tmp_path: Path, database_url: str, toml: str) -> HubSettings:
    home = tmp_path / "data"
    home.mkdir()
    (home / "hub.toml").write_text(toml, encoding="utf-8")
    shutil.copy(SHIPPED_RULES, home / "loyalty.toml")
    settings = HubSettings(home, tmp_path / "keys" / "keyring.json", database_url, home / "hub.toml")
    init_hub(settings)[0].close()
    return settings


def _by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


def _failed(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings if finding.status is Status.FAIL}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_healthy_hub_passes_every_check(settings: HubSettings):
    findings = diagnose(settings, broker_url=None)
    assert [f.check for f in findings] == [
        "hub.toml", "loyalty rules", "key file", "database", "key ring", "broker", "connector tokyo", "clock",
    ]  # fmt: skip
    assert {f.check: f.status for f in findings if f.status is not Status.OK} == {}
    found = _by_check(findings)
    assert "token accepted" in found["connector tokyo"].detail
    assert found["broker"].detail.startswith("n/a") and found["clock"].detail.startswith("n/a")


def test_a_key_file_readable_by_others_fails_with_chmod_as_the_fix(settings: HubSettings):
    settings.key_file.chmod(0o644)
    failed = _failed(diagnose(settings, broker_url=None))
    assert failed.keys() == {"key file"}
    assert "0644" in failed["key file"].detail and failed["key file"].hint == f"chmod 600 {settings.key_file}"


def test_a_broken_hub_toml_fails_naming_the_file_and_the_fix(settings: HubSettings):
    assert settings.config_file is not None
    settings.config_file.write_text("[connectors.tokyo\ntype = ", encoding="utf-8")
    findings = diagnose(settings, broker_url=None)
    failed = _failed(findings)
    assert failed.keys() == {"hub.toml"}
    assert "not valid TOML" in failed["hub.toml"].detail and "HUB_CONFIG" in failed["hub.toml"].hint
    assert _by_check(findings)["connectors"].status is Status.WARN  # not run, not blamed


def test_a_database_one_migration_behind_fails_with_db_upgrade_as_the_fix(settings: HubSettings):
    engine = create_hub_engine(settings.database_url)
    try:
        _downgrade_one_step(engine)
        assert database_revision(engine) != head_revision()
    finally:
        engine.dispose()
    failed = _failed(diagnose(settings, broker_url=None))
    assert "database" in failed and failed["database"].hint == "run `hub db upgrade`"
    assert head_revision() in failed["database"].detail


def _downgrade_one_step(engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).with_name("migrations")))
    config.set_main_option("path_separator", "os")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "-1")


def test_an_unreachable_broker_fails_within_the_timeout(settings: HubSettings):
    url = f"redis://:hunter2@127.0.0.1:{_closed_port()}/0"
    failed = _failed(diagnose(settings, broker_url=url))
    assert failed.keys() == {"broker"}
    assert "does not answer" in failed["broker"].detail and "HUB_BROKER_URL" in failed["broker"].hint
    assert "hunter2" not in failed["broker"].detail  # the URL is shown without its password


def test_a_connector_whose_sandbox_refuses_fails_on_its_own_line(settings: HubSettings, sandbox: SandboxServer):
    sandbox.state.reject_credentials()
    failed = _failed(diagnose(settings, broker_url=None))
    assert failed.keys() == {"connector tokyo"}
    assert "[connectors.tokyo]" in failed["connector tokyo"].hint


def test_the_command_prints_one_line_per_check_and_exits_1_on_a_failure(settings: HubSettings, tmp_path: Path):
    settings.key_file.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {"HUB_HOME": str(settings.home), "HUB_KEY_FILE": str(settings.key_file), "COLUMNS": "300", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli.app", "doctor"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OK    hub.toml") and len(lines) == 8
    assert any(line.startswith("FAIL  key file") and f"fix: chmod 600 {settings.key_file}" in line for line in lines)


@pytest.mark.postgres
def test_on_postgresql_the_clock_is_compared_with_the_servers(tmp_path: Path, pg_url: str, sandbox: SandboxServer):
    settings = _installation(tmp_path, pg_url, HUB_TOML.format(url=sandbox.url))
    clock = _by_check(diagnose(settings, broker_url=None))["clock"]
    assert clock.status is Status.OK and clock.detail.startswith("skew database "), clock
    engine = create_hub_engine(pg_url)
    try:
        late = check_clock(engine, None, lambda: datetime.now(UTC) - timedelta(seconds=5))
    finally:
        engine.dispose()
    assert late.status is Status.WARN and "database +5." in late.detail and "NTP" in late.hint


@pytest.mark.postgres
def test_a_reachable_redis_broker_answers_ping_and_its_clock_is_compared_too(pg_url: str):
    broker = check_broker(REDIS_URL)
    if broker.status is not Status.OK:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but Redis does not answer at {REDIS_URL}")
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    assert broker.detail.endswith("PING answered")
    engine = create_hub_engine(pg_url)
    try:
        clock = check_clock(engine, REDIS_URL, lambda: datetime.now(UTC))
    finally:
        engine.dispose()
    assert clock.status is Status.OK and "database " in clock.detail and ", broker " in clock.detail
