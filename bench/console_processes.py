"""The processes of the console lookup benchmark: ``hub serve``, the background sync, and the CPU they use.

Both run on the hub the environment names (``environment``), and stop when their block ends: the server on
SIGTERM, as a service manager stops it; the sync with its reader children (its own process group).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa

from hub.settings import HubSettings

ROOT = Path(__file__).resolve().parents[1]
SERVER_START_S = 60


def environment(settings: HubSettings) -> dict[str, str]:
    """This process's environment plus the hub's settings, JSON logs, and the repository on the import path."""
    return os.environ | {
        "HUB_HOME": str(settings.home),
        "HUB_KEY_FILE": str(settings.key_file),
        "HUB_DATABASE_URL": settings.database_url,
        "HUB_CONFIG": str(settings.config_file),
        "HUB_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),  # the sync's spawned reader child imports bench.ingest_source
    }


@contextmanager
def server(environment: dict[str, str], workdir: Path, workers: int = 1) -> Iterator[tuple[str, psutil.Process]]:
    """``hub serve [--workers N]`` on a free loopback port, once it answers ``/readyz``; stopped (SIGTERM) afterwards.

    With workers, the process yielded is uvicorn's supervisor; ``Usage`` counts it with its worker children.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (workdir / "server.log").open("wb")
    hub_command = Path(sys.executable).with_name("hub")
    command = [str(hub_command), "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, process, workdir / "server.log")
        yield base_url, psutil.Process(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"hub serve exited with {process.returncode}:\n{log.read_text()[-2_000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"hub serve did not answer /readyz within {SERVER_START_S} s")


@contextmanager
def sync(environment: dict[str, str], workdir: Path, instance: str) -> Iterator[subprocess.Popen[bytes]]:
    """A full sync of ``instance`` in its own process group (console_sync.py); stopped with its reader children."""
    log = (workdir / "sync.log").open("wb")
    command = [sys.executable, str(ROOT / "bench" / "console_sync.py"), instance]
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        else:
            print(f"the sync ended by itself (exit {process.returncode}):\n{(workdir / 'sync.log').read_text()}")
        log.close()


class Usage:
    """Between two reads: CPU seconds of the server (with its workers), of the sync with its reader children, of
    the PostgreSQL backends on the bench database and of the machine, and the members and purchases the sync stored."""

    def __init__(self, server: psutil.Process, sync: subprocess.Popen[bytes] | None, engine: sa.Engine) -> None:
        self.server, self.sync, self.engine = server, sync, engine
        self.began = self._now()

    def start(self) -> None:
        self.began = self._now()

    def since_start(self) -> dict[str, Any]:
        """Percent of one CPU (server, sync, PostgreSQL) or of all CPUs (machine), rows stored per second."""
        now, then = self._now(), self.began
        wall = now["wall"] - then["wall"]
        shares = {key: 100 * (now[key] - then[key]) / wall for key in ("server", "sync", "machine")}
        backends = now["postgres"]
        postgres = sum(seconds - then["postgres"].get(pid, 0.0) for pid, seconds in backends.items())
        return {
            "server_cpu": shares["server"],
            "sync_cpu": shares["sync"],
            "postgres_cpu": 100 * postgres / wall,
            "machine_cpu": shares["machine"] / (os.cpu_count() or 1),
            "synced_per_s": (now["stored"] - then["stored"]) / wall,
            "sync": "off" if self.sync is None else "running" if self.sync.poll() is None else "ended",
            "sync_nice": _niceness(self.sync.pid) if self.sync else "-",
            "load": os.getloadavg()[0],
        }

    def _now(self) -> dict[str, Any]:
        machine = psutil.cpu_times()
        with self.engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT (SELECT count(*) FROM members) + (SELECT count(*) FROM purchases)"))
            backends = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
            rows, pids = stored.scalar_one(), list(backends.scalars())
        return {
            "wall": time.monotonic(),
            "server": _cpu_seconds(_tree(self.server.pid)),  # with its worker processes, if any
            "sync": _cpu_seconds(_tree(self.sync.pid)) if self.sync else 0.0,
            "postgres": {pid: _cpu_seconds([pid]) for pid in pids},
            "machine": machine.user + machine.system + machine.nice + machine.irq + machine.softirq,
            "stored": rows,
        }


def _tree(pid: int) -> list[int]:
    """The process and its descendants (none once it has ended)."""
    try:
        return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def _niceness(pid: int) -> int | str:
    """The niceness the sync process runs at (``[sync] niceness``), or "-" once it has ended."""
    try:
        return psutil.Process(pid).nice()
    except psutil.NoSuchProcess:
        return "-"


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:  # a reader child or a backend that has just ended
            continue
        total += times.user + times.system
    return total
