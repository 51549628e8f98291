"""Real ``hub worker`` processes on a real Redis and PostgreSQL, fed by the example connector's sandboxes.

Every process is started in its own session (process group) and killed whole at the end, whatever happened.
The tests watch the workers' progress in the hub's PostgreSQL tables; a real process has no clock to inject,
so they poll, always with a bound.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from connectors.example.sandbox import SandboxServer
from tests.conftest import _service_missing
from tests.hub.conftest import HubCli

VISIBILITY_TIMEOUT_S = 10  # longer than any run here (else a running task is handed out again), short for the test
POLL_S = 0.2

_INSTANCE = """\
[connectors.{name}]
type = "example"
base_url = "{url}"
token_env = "{env}_TOKEN"
webhook_secret_env = "{env}_WEBHOOK_SECRETS"
page_size = {page_size}
{schedule}
"""


def wait_until(condition: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy (returned), failing after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout_s:g}s")
        time.sleep(POLL_S)
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ── the hub under test ─────────────────────────────────────────────────────────────────────────────


@dataclass
class Deployment:
    """One hub on PostgreSQL with its workers: configuration, processes and a read-only view of its tables."""

    cli: HubCli
    database_url: str
    logs: Path
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.db: Engine = create_engine(self.database_url, isolation_level="AUTOCOMMIT")

    def configure(self, sandboxes: dict[str, SandboxServer], *, page_size: int = 5, schedule: str = "") -> None:
        """Write ``hub.toml`` with one example instance per sandbox and give the workers their tokens."""
        tables = []
        for name, sandbox in sandboxes.items():
            env = name.upper()
            self.cli.env |= {f"{env}_TOKEN": sandbox.token, f"{env}_WEBHOOK_SECRETS": "hook-secret"}
            line = f'schedule = "{schedule}"' if schedule else ""
            tables.append(_INSTANCE.format(name=name, url=sandbox.url, env=env, page_size=page_size, schedule=line))
        (self.cli.home / "hub.toml").write_text("\n".join(tables), encoding="utf-8")

    def start(self, name: str, *command: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start ``hub <command>`` as process ``name``, logging to ``<name>.log``, in its own process group."""
        with (self.logs / f"{name}.log").open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli.app", *command],
                env=self.cli.env | (env or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def start_workers(self, *names: str, env: dict[str, str] | None = None) -> None:
        """Start one-task-at-a-time ``hub worker`` processes together and wait until each consumes."""
        for name in names:
            self.start(name, "worker", "--concurrency", "1", env=env)
        for name in names:
            wait_until(lambda: self.ready(name), timeout_s=30, what=f"ready worker {name}")  # noqa: B023 - waited here

    def ready(self, name: str) -> bool:
        process = self.processes[name]
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{self.log(name)}")
        return "worker ready" in self.log(name)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL the whole process group: the worker, its threads and its connector processes die at once."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self.db.dispose()

    # ── what the workers did ──

    def runs(self) -> list[Any]:
        with self.db.connect() as conn:
            return list(conn.execute(text("SELECT * FROM sync_runs ORDER BY id")))

    def cursor(self, connector: str, stream: str) -> str | None:
        with self.db.connect() as conn:
            query = "SELECT cursor FROM sync_state WHERE connector = :c AND stream = :s"
            return conn.execute(text(query), {"c": connector, "s": stream}).scalar()

    def external_ids(self, table: str, source: str) -> list[str]:
        """Every stored ``external_id`` of ``source`` in ``table``, duplicates included (there must be none)."""
        assert table in ("source_links", "purchases")
        with self.db.connect() as conn:
            query = text(f"SELECT external_id FROM {table} WHERE source = :s")
            return [row[0] for row in conn.execute(query, {"s": source})]

    def duplicate_ledger_events(self) -> list[Any]:
        with self.db.connect() as conn:
            query = "SELECT source_event FROM point_ledger GROUP BY source_event HAVING count(*) > 1"
            return list(conn.execute(text(query)))


@pytest.fixture
def deployment(hub_cli: HubCli, pg_url: str, tmp_path: Path) -> Iterator[Deployment]:
    """An initialised hub on a fresh PostgreSQL database; every process it started is killed afterwards."""
    hub_cli.env |= {"HUB_DATABASE_URL": pg_url, "HUB_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    hub_cli("init")
    deployment = Deployment(hub_cli, pg_url, tmp_path)
    yield deployment
    deployment.stop_all()


def use_broker(deployment: Deployment, url: str) -> Any:
    """Point the deployment's workers at ``url`` (a queue of their own) and return a client app to send tasks."""
    from hub.workers.app import BrokerSettings, create_app

    broker = BrokerSettings(url, f"memberhub-test-{secrets.token_hex(4)}", VISIBILITY_TIMEOUT_S)
    deployment.cli.env |= {
        "HUB_BROKER_URL": broker.url,
        "HUB_BROKER_QUEUE": broker.queue,
        "HUB_BROKER_VISIBILITY_TIMEOUT": str(broker.visibility_timeout_s),
    }
    return create_app(broker)


# ── brokers ────────────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def machine_redis(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of the test module's own database (its ``REDIS_DB``) on the machine's Redis, emptied before and after.

    One database per module: the suite runs modules in parallel, and only the module's own is ever flushed.
    """
    import redis

    url = f"redis://127.0.0.1:6379/{request.module.REDIS_DB}"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.ConnectionError as error:
        _service_missing(f"Redis is not reachable at 127.0.0.1:6379: {error.__class__.__name__}")
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


class PrivateRedis:
    """A ``redis-server`` of the test's own, on a free port, that the test may kill and start again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*command, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, start_new_session=True
        )
        wait_until(self._answers, timeout_s=10, what=f"redis-server on port {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    import shutil

    if shutil.which("redis-server") is None:
        _service_missing("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


# ── a database that can go away ────────────────────────────────────────────────────────────────────


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that can cut every connection and refuse new ones for a while.

    To the hub this looks like a database restart, without touching the machine's shared server.
    """

    def __init__(self, target_port: int = 5432) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.up = threading.Event()
        self.up.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until ``restore``."""
        self.up.clear()
        with self._lock:
            for sock in self._sockets:
                _close(sock)
            self._sockets.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self.listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                _close(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy()
    yield proxy
    proxy.close()
