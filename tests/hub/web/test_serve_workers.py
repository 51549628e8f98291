"""``hub serve --workers N``: N uvicorn worker processes on one port, each with the hub opened anew."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.runtime import init_hub
from hub.settings import HubSettings
from tests.hub.conftest import HubCli

pytestmark = pytest.mark.slow
START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(log: Path, line: str, count: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while log.read_text(encoding="utf-8").count(line) < count:
        assert server.poll() is None, log.read_text(encoding="utf-8")
        assert time.monotonic() < deadline, f"{count} × {line!r} not logged within {START_TIMEOUT_S:g} s"
        time.sleep(0.1)  # the workers are still starting; bounded by the deadline


def test_two_workers_serve_one_port_and_each_closes_its_hub_on_sigterm(hub_cli: HubCli, tmp_path: Path):
    settings = HubSettings(hub_cli.home, hub_cli.key_file, f"sqlite:///{hub_cli.home / 'hub.sqlite3'}")
    init_hub(settings)[0].close()
    port, log = _free_port(), tmp_path / "serve.log"
    command = [sys.executable, "-m", "hub.cli.app", "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=hub_cli.env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_for(log, "Application startup complete", 2, server)
        for _ in range(4):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0
    assert log.read_text(encoding="utf-8").count("Application shutdown complete") == 2
