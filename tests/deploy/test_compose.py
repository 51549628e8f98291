"""docker-compose.yml, its Dockerfile and config/compose: valid, wired in the right order, and free of secrets.

No Docker engine runs the stack here: these tests read the files. The schema is the Compose Specification's
(Apache-2.0, see compose-spec.LICENSE and README.md beside this file).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import typer.main
import yaml
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from core.loyalty import load_rules
from core.plugins.manager import build_plugin_manager
from core.sync.registry import ConnectorRegistry
from hub.cli.app import app
from hub.config import load_hub_config
from hub.web.api.health import router as health_router

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
HUB_TOML = ROOT / "config" / "compose" / "hub.toml"
ENV_EXAMPLE = ROOT / ".env.example"
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)
VARIABLE_REFERENCE = re.compile(r"^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$")
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:(?!\$\{)[^/\s@]+@")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict[str, Any]]:
    return compose["services"]


def hub_services(services) -> dict[str, dict[str, Any]]:
    """The services built from ./Dockerfile (the hub's own processes)."""
    return {name: service for name, service in services.items() if "build" in service}


def environment(service) -> dict[str, str]:
    values = service.get("environment") or {}
    if isinstance(values, list):
        values = dict(item.split("=", 1) for item in values)
    return {name: str(value) for name, value in values.items()}


def secret_paths(service) -> set[str]:
    """Where the service's secrets appear inside its containers."""
    paths = set()
    for secret in service.get("secrets", []):
        if isinstance(secret, str):
            paths.add(f"/run/secrets/{secret}")
        else:
            target = secret.get("target", secret["source"])
            paths.add(target if target.startswith("/") else f"/run/secrets/{target}")
    return paths


def mounts(service) -> dict[str, tuple[str, bool]]:
    """Container path → (source, read-only) of the service's short-syntax volumes."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        found[target] = (source, mode == ["ro"])
    return found


def string_scalars(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in string_scalars(value)]
    if isinstance(node, list):
        return [text for item in node for text in string_scalars(item)]
    return [node] if isinstance(node, str) else []


# Structure


def test_the_compose_file_follows_the_compose_specification(compose):
    validator = jsonschema_rs.validator_for(json.loads((Path(__file__).parent / "compose-spec.json").read_text()))

    assert [error.message for error in validator.iter_errors(compose)] == []


def test_the_schema_check_would_catch_a_misspelt_key(compose):
    validator = jsonschema_rs.validator_for(json.loads((Path(__file__).parent / "compose-spec.json").read_text()))
    broken = {**compose, "services": {**compose["services"], "web": {**compose["services"]["web"], "helthcheck": {}}}}

    assert not validator.is_valid(broken)


def test_docker_compose_accepts_the_file(tmp_path):
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` on this machine: the file is checked against the Compose schema instead")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "config", project / "config")
    shutil.copy(COMPOSE_FILE, project)
    shutil.copy(ENV_EXAMPLE, project / ".env")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "keyring.json").touch()
    (secrets / "db_password").touch()

    checked = subprocess.run(
        [docker, "compose", "--project-directory", str(project), "config", "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, "MEMBERHUB_SECRETS_DIR": str(secrets)},
    )

    assert checked.returncode == 0, checked.stderr


def test_the_stack_has_the_production_services(services):
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert set(hub_services(services)) == {"migrate", "web", "worker", "beat"}


def test_every_hub_service_runs_the_one_image_built_here(services):
    built = hub_services(services).values()
    images = {(service["image"], service["build"], service["pull_policy"]) for service in built}

    assert images == {("memberhub:local", ".", "build")}


# Order of start


def test_the_migration_runs_once_when_postgres_is_healthy(services):
    migrate = services["migrate"]

    assert migrate["command"] == ["hub", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_service_using_the_database_waits_for_the_migration(services):
    users = {name for name, service in services.items() if "HUB_DATABASE_URL" in environment(service)} - {"migrate"}

    assert users == {"web", "worker"}
    for name in users:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_the_broker_clients_wait_for_a_healthy_redis(services):
    for name in ("worker", "beat"):
        assert environment(services[name])["HUB_BROKER_URL"].startswith("redis://redis:")
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_long_running_services_restart_and_the_migration_does_not(services):
    policies = {name: service["restart"] for name, service in services.items()}

    assert policies == {name: "no" if name == "migrate" else "unless-stopped" for name in services}


# Health and limits


def test_postgres_redis_and_web_have_healthchecks(services):
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_web_healthcheck_asks_the_readiness_endpoint(services):
    probe = " ".join(services["web"]["healthcheck"]["test"])
    readiness = {route.path for route in health_router.routes} & {"/readyz"}

    assert readiness == {"/readyz"}
    assert "http://127.0.0.1:8000/readyz" in probe


def test_every_service_has_a_memory_limit(services):
    for name, service in services.items():
        assert service["deploy"]["resources"]["limits"]["memory"], name


def test_every_volume_and_secret_a_service_uses_is_declared(compose, services):
    for name, service in services.items():
        volumes = {source for source, _ in mounts(service).values() if not source.startswith((".", "/"))}
        secrets = {secret if isinstance(secret, str) else secret["source"] for secret in service.get("secrets", [])}
        assert volumes <= set(compose["volumes"]), name
        assert secrets <= set(compose["secrets"]), name


def test_state_lives_in_named_volumes(compose, services):
    named = set(compose["volumes"])

    assert mounts(services["postgres"])["/var/lib/postgresql/data"][0] in named
    assert mounts(services["redis"])["/data"][0] in named
    assert mounts(services["beat"])["/var/lib/memberhub"][0] in named  # celerybeat-schedule


# Exposure and secrets


def test_only_the_web_port_is_published_and_only_on_the_loopback_interface(services):
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}

    assert published == {"web": ["127.0.0.1:8000:8000"]}


def test_secret_looking_variables_hold_secret_file_paths_or_references(services):
    for name, service in services.items():
        for variable, value in environment(service).items():
            if SECRET_NAME.search(variable):
                assert value in secret_paths(service) or VARIABLE_REFERENCE.match(value), (name, variable)


def test_no_url_in_the_file_carries_a_password(compose):
    assert [text for text in string_scalars(compose) if URL_WITH_PASSWORD.search(text)] == []


def test_the_database_url_names_no_password_and_the_password_file_is_a_secret(services):
    for name in ("migrate", "web", "worker"):
        variables = environment(services[name])
        url = make_url(variables["HUB_DATABASE_URL"])
        assert (url.password, url.host) == (None, "postgres"), name
        assert variables["HUB_DATABASE_PASSWORD_FILE"] in secret_paths(services[name]), name
    assert environment(services["postgres"])["POSTGRES_PASSWORD_FILE"] == "/run/secrets/memberhub_db_password"


def test_secrets_come_from_files_outside_the_checkout(compose):
    for name, secret in compose["secrets"].items():
        assert set(secret) == {"file"}, name  # no inline `content`, no `environment` copy
        default = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", secret["file"])
        assert Path(default).is_absolute() and not Path(default).is_relative_to(ROOT), name


def test_the_key_ring_reaches_only_the_processes_that_decrypt(services):
    holders = {name for name, service in services.items() if "HUB_KEY_FILE" in environment(service)}

    assert holders == {"web", "worker"}
    for name in holders:
        assert environment(services[name])["HUB_KEY_FILE"] in secret_paths(services[name]), name


def test_the_erasure_ledger_beside_the_key_file_is_one_volume_shared_by_the_key_holders(compose, services):
    ledger_volumes = set()
    for name in ("web", "worker"):
        key_dir = str(Path(environment(services[name])["HUB_KEY_FILE"]).parent)
        ledger_volumes.add(mounts(services[name])[key_dir][0])

    assert len(ledger_volumes) == 1
    assert ledger_volumes <= set(compose["volumes"])


def test_connector_tokens_come_from_the_git_ignored_env_file(services):
    with_tokens = {name: service["env_file"] for name, service in services.items() if "env_file" in service}

    assert with_tokens == {"web": ".env", "worker": ".env"}
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_the_env_example_names_every_variable_of_the_config_and_holds_no_value():
    lines = [line for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]
    names = {line.split("=", 1)[0] for line in lines}
    config = tomllib.loads(HUB_TOML.read_text(encoding="utf-8"))
    wanted = {value for table in config["connectors"].values() for key, value in table.items() if key.endswith("_env")}

    assert all(line.endswith("=") for line in lines)
    assert names == wanted


# Commands and configuration


@pytest.mark.parametrize("service", ["migrate", "web", "worker", "beat"])
def test_the_service_command_is_a_real_hub_command_with_valid_options(services, service):
    program, *arguments = services[service]["command"]
    command = typer.main.get_command(app)
    path = []
    while isinstance(getattr(command, "commands", None), dict) and arguments and arguments[0] in command.commands:
        path.append(arguments[0])
        command = command.commands[arguments.pop(0)]

    assert program == "hub"
    assert path and not hasattr(command, "commands"), path  # a command, not a group
    command.make_context(" ".join(path), list(arguments))  # raises on an unknown option or a bad value
    assert CliRunner().invoke(app, [*path, "--help"]).exit_code == 0


def test_the_hub_services_read_the_compose_config_and_the_shipped_rules_read_only(services):
    for name in ("web", "worker", "beat"):
        variables, mounted = environment(services[name]), mounts(services[name])
        assert mounted[variables["HUB_CONFIG"]] == ("./config/compose/hub.toml", True), name
        assert mounted[variables["HUB_LOYALTY_RULES"]] == ("./config/loyalty.toml", True), name


def test_the_compose_config_loads_and_its_connectors_validate(monkeypatch):
    config = load_hub_config(HUB_TOML)
    for table in tomllib.loads(HUB_TOML.read_text(encoding="utf-8"))["connectors"].values():
        for key, variable in table.items():
            if key.endswith("_env"):
                monkeypatch.setenv(variable, "placeholder")

    ConnectorRegistry.from_plugins(build_plugin_manager(), config.connectors).validate_all()
    assert set(config.connectors) == {"shopify-tokyo", "square-ginza"}


def test_the_mounted_loyalty_rules_load():
    assert load_rules(ROOT / "config" / "loyalty.toml").version


def test_connector_deadlines_stay_below_the_broker_visibility_timeout(services):
    timeout = int(environment(services["worker"]).get("HUB_BROKER_VISIBILITY_TIMEOUT", "3600"))

    assert all(instance.deadline_s < timeout for instance in load_hub_config(HUB_TOML).connectors.values())


# The image


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_is_python_311_slim_and_installs_the_package_with_postgres_support():
    instructions = dockerfile_instructions()
    runs = " ".join(argument for keyword, argument in instructions if keyword == "RUN")

    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert re.search(r"pip install \S*\[postgres\]", runs)


def test_the_image_runs_as_an_unprivileged_user():
    users = [argument for keyword, argument in dockerfile_instructions() if keyword == "USER"]

    assert users and users[-1] not in {"root", "0", "0:0"}


def test_the_image_bakes_in_no_secret():
    for keyword, argument in dockerfile_instructions():
        if keyword in {"ENV", "ARG"}:
            assert not SECRET_NAME.search(argument), argument


def test_the_build_context_holds_only_what_the_package_needs():
    patterns = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:] for line in patterns if line.startswith("!")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {prefix.rstrip("*") for prefix in project["tool"]["setuptools"]["packages"]["find"]["include"]}

    assert "*" in patterns  # everything else stays out: .env, .git, .venv, local data and keys
    assert allowed == {"pyproject.toml", project["project"]["readme"], *packages}
