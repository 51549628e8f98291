"""``hub users``, ``hub tokens``, ``hub audit export`` and ``hub serve``, as real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from core.access import ApiTokens, ConsoleUsers
from hub.runtime import Hub, open_hub
from hub.settings import HubSettings
from tests.hub.conftest import HubCli

pytestmark = pytest.mark.slow

PASSWORD = "a long enough passphrase"
SERVE_TIMEOUT_S = 60.0


def _with_stdin(hub_cli: HubCli, text: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli.app", *args],
        env=hub_cli.env,
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


@contextmanager
def _hub_of(hub_cli: HubCli) -> Iterator[Hub]:
    """The same installation, opened in this process."""
    home = hub_cli.home
    hub = open_hub(HubSettings(home, hub_cli.key_file, f"sqlite:///{home / 'hub.sqlite3'}", home / "hub.toml"))
    try:
        yield hub
    finally:
        hub.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_user_added_from_the_cli_signs_in_with_the_password_from_stdin(hub_cli):
    hub_cli("init")
    added = _with_stdin(hub_cli, PASSWORD + "\n", "users", "add", "aiko", "--role", "supervisor", "--password-stdin")
    assert "aiko added" in added.stdout and PASSWORD not in added.stdout
    listed = hub_cli("users", "list").stdout
    assert "aiko" in listed and "supervisor" in listed
    with _hub_of(hub_cli) as hub:
        assert ConsoleUsers(hub.engine).authenticate("aiko", PASSWORD, "test").username == "aiko"


def test_passwd_replaces_the_password_and_disable_stops_sign_in(hub_cli):
    hub_cli("init")
    _with_stdin(hub_cli, PASSWORD + "\n", "users", "add", "ken", "--role", "operator", "--password-stdin")
    _with_stdin(hub_cli, "another long passphrase\n", "users", "passwd", "ken", "--password-stdin")
    with _hub_of(hub_cli) as hub:
        assert ConsoleUsers(hub.engine).authenticate("ken", "another long passphrase", "test")
    hub_cli("users", "disable", "ken")
    assert "ken" in hub_cli("users", "list").stdout
    with _hub_of(hub_cli) as hub:
        disabled = ConsoleUsers(hub.engine).get("ken")
    assert disabled.disabled_at is not None


def test_a_short_password_is_refused_with_one_line(hub_cli):
    hub_cli("init")
    refused = _with_stdin(hub_cli, "short\n", "users", "add", "ken", "--role", "operator", "--password-stdin", ok=False)
    assert refused.returncode == 2 and "12 to 128 characters" in refused.stderr and "Traceback" not in refused.stderr


def test_a_token_is_printed_once_listed_without_its_value_and_revoked(hub_cli):
    hub_cli("init")
    args = ("tokens", "add", "helpdesk", "--role", "supervisor", "--scope", "sync:read", "--scope", "sync:write")
    value = hub_cli(*args, "--expires-days", "30").stdout.strip()
    assert value.startswith("mhk_")
    listed = hub_cli("tokens", "list").stdout
    assert "helpdesk" in listed and "sync:write" in listed and value not in listed
    with _hub_of(hub_cli) as hub:
        assert ApiTokens(hub.engine).resolve(value) is not None
    hub_cli("tokens", "revoke", "helpdesk")
    with _hub_of(hub_cli) as hub:
        assert ApiTokens(hub.engine).resolve(value) is None


def test_audit_export_writes_csv_and_json_lines_without_personal_data(hub_cli):
    hub_cli("init")
    hub_cli("members", "add", "--name", "山田 花子", "--phone", "090-1234-5678")
    hub_cli("members", "search", "090-1234-5678")
    _with_stdin(hub_cli, PASSWORD + "\n", "users", "add", "aiko", "--role", "operator", "--password-stdin")
    exported = hub_cli("audit", "export", "--since", "2020-01-01").stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [row["action"] for row in rows] == ["search", "user_add"]
    assert rows[0]["actor"].startswith("cli:") and json.loads(rows[1]["detail"])["username"] == "aiko"
    assert "山田" not in exported and "1234-5678" not in exported
    lines = hub_cli("audit", "export", "--since", "2020-01-01", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["search", "user_add"]
    assert hub_cli("audit", "export", "--since", "2999-01-01").stdout.strip() == ",".join(
        ("id", "occurred_at", "actor", "role", "action", "member_id", "purpose", "request_id", "detail")
    )


def test_serve_answers_healthz_and_logs_requests_without_uvicorns_access_log(hub_cli):
    hub_cli("init")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli.app", "serve", "--port", str(port)],
        env=hub_cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        answer = _poll_healthz(f"http://127.0.0.1:{port}/healthz", server)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    logged = [line for line in stderr.splitlines() if "http_request" in line]
    assert len(logged) == 1 and "/healthz" in logged[0] and "127.0.0.1" not in logged[0]
    assert '"GET /healthz HTTP/1.1"' not in stderr


def _poll_healthz(url: str, server: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    while time.monotonic() < deadline:
        assert server.poll() is None, "hub serve exited early"
        try:
            return httpx.get(url, timeout=2.0)
        except httpx.TransportError:
            time.sleep(0.1)  # the server is still starting; bounded by SERVE_TIMEOUT_S
    raise AssertionError(f"hub serve did not answer within {SERVE_TIMEOUT_S:g}s")
