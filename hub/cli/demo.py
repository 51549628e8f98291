"""``hub demo``: the whole product on one machine — emulators, a full sync, loyalty, the scheduler and the console.

Everything listens on loopback only. The data directory is kept, so a second run reuses its members and history
(the emulators generate the same customers and orders every time; syncing them again changes nothing).
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Annotated

import typer
from rich.markup import escape

from core.access import ConsoleUsers, Role
from core.errors import InvalidInputError
from hub.cli import sync
from hub.cli.common import console
from hub.cli.web import serve_console
from hub.demo import ONLINE_INSTANCE, STORE_INSTANCE, DemoSandboxes, demo_config, demo_environment, demo_profiles
from hub.runtime import Hub, init_hub
from hub.scheduler import hub_scheduler
from hub.settings import load_settings

DEMO_OPERATOR = "demo-operator"
DEMO_SUPERVISOR = "demo-supervisor"


def demo(
    count: Annotated[int, typer.Option("--members", min=1, help="How many demo members to seed.")] = 300,
    port: Annotated[int, typer.Option(min=0, max=65_535, help="Console port on 127.0.0.1 (0: any free one).")] = 8000,
    serve: Annotated[bool, typer.Option(help="Serve the console and run the scheduler until Ctrl-C.")] = True,
) -> None:
    """Start the emulators, sync them fully, apply loyalty, then serve the console with the scheduler running."""
    with ExitStack() as stack:
        sandboxes = stack.enter_context(_sandboxes())
        hub = stack.enter_context(_demo_hub(sandboxes))
        _seed(hub, count)
        jobs = [(name, stream) for name in (STORE_INSTANCE, ONLINE_INSTANCE) for stream in _streams(hub, name)]
        reports = sync.sync_with_progress(hub, jobs)
        console.print(sync.summary_table(reports, title="demo sync: the shops' POS (example) and the online store"))
        for run in hub.run_loyalty_jobs():
            console.print(f"loyalty {run.name}: {escape(run.summary)}")
        logins = _demo_accounts(hub)
        if serve:
            _serve(hub, port, logins)


@contextmanager
def _sandboxes() -> Iterator[DemoSandboxes]:
    """Both emulators on loopback, stopped afterwards."""
    # Imported here: reader processes re-import the CLI, and they need neither emulator.
    from connectors.example.sandbox import SandboxServer as StoreSandbox
    from connectors.shopify.sandbox import SandboxServer as OnlineSandbox

    # The online store is on Shopify Plus: a ten times larger cost budget, or its first sync waits ~25 s for it.
    online_shop = OnlineSandbox(customers=80, orders=160, maximum_available=20_000.0, restore_rate=1_000.0)
    with StoreSandbox(customers=120, orders=400) as store, online_shop as online:
        yield DemoSandboxes(
            store.url, store.token, store.state.webhook_secret,
            online.url, online.access_token, online.state.webhook_secret,
        )  # fmt: skip


@contextmanager
def _demo_hub(sandboxes: DemoSandboxes) -> Iterator[Hub]:
    settings = load_settings()
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    demo_environment(sandboxes)
    settings = replace(settings, config_file=demo_config(sandboxes, settings.home / "hub.toml"))
    hub, _ = init_hub(settings)
    try:
        yield hub
    finally:
        hub.close()


def _seed(hub: Hub, count: int) -> None:
    existing = hub.members.count()
    if existing < count:
        with console.status(f"seeding {count - existing} Japanese demo members (encrypted)…"):
            hub.members.add_many(demo_profiles(count)[existing:])


def _streams(hub: Hub, instance: str) -> list[str]:
    return [spec.name for spec in hub.registry.types[hub.registry.instance(instance).type].streams]


def _demo_accounts(hub: Hub) -> dict[str, str]:
    """A demo operator and supervisor with fresh passwords (a second run resets them); name → password."""
    users = ConsoleUsers(hub.engine, clock=hub.members.clock)
    logins = {}
    for name, role in ((DEMO_OPERATOR, Role.OPERATOR), (DEMO_SUPERVISOR, Role.SUPERVISOR)):
        password = secrets.token_urlsafe(12)
        try:
            users.get(name)
            users.set_password(name, password)
        except InvalidInputError:
            users.add(name, password, role)
        logins[name] = password
    return logins


def _serve(hub: Hub, port: int, logins: dict[str, str]) -> None:
    """The console on 127.0.0.1 and the embedded scheduler, until Ctrl-C."""
    chosen = port or _free_port()
    scheduler = hub_scheduler(hub)
    scheduler.start()
    console.print(f"\n[bold green]console:[/] http://127.0.0.1:{chosen}/")
    for name, password in logins.items():
        console.print(f"  sign in as [bold]{name}[/] with password [bold]{password}[/]")
    console.print("scheduler running (sync every minute, loyalty jobs nightly); Ctrl-C stops everything\n")
    try:
        serve_console(hub, "127.0.0.1", chosen)
    finally:
        hub.sync.request_stop()
        scheduler.shutdown(wait=True)
    console.print("demo stopped")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
