"""``hub demo``: the whole product on one machine — emulators, a full sync, loyalty, the scheduler and the console.

Everything listens on loopback only. The data directory is kept, so a second run reuses its members and history
(the emulators generate the same customers and orders every time; syncing them again changes nothing).
"""

from __future__ import annotations

import secrets
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from core.access import ConsoleUsers, Role
from core.errors import InvalidInputError
from core.loyalty.rules import SHIPPED_RULES
from hub.cli import sync
from hub.cli.common import console
from hub.cli.web import TRUSTED_PROXIES, serve_console, trusted_proxy_list
from hub.demo import (
    CALL_CENTER_INSTANCE,
    MAIL_INSTANCE,
    ONLINE_INSTANCE,
    STORE_INSTANCE,
    SURVEY_METRIC,
    TILLS_INSTANCE,
    DemoInstance,
    demo_config,
    demo_environment,
    demo_profiles,
    demo_rules,
)
from hub.runtime import Hub, init_hub
from hub.scheduler import hub_scheduler
from hub.settings import load_settings

if TYPE_CHECKING:
    from connectors.klaviyo.sandbox.state import SandboxState as MailState

DEMO_OPERATOR = "demo-operator"
DEMO_SUPERVISOR = "demo-supervisor"


def demo(
    count: Annotated[int, typer.Option("--members", min=1, help="How many demo members to seed.")] = 300,
    port: Annotated[int, typer.Option(min=0, max=65_535, help="Console port on 127.0.0.1 (0: any free one).")] = 8000,
    serve: Annotated[bool, typer.Option(help="Serve the console and run the scheduler until Ctrl-C.")] = True,
) -> None:
    """Start the emulators, sync them fully, apply loyalty, then serve the console with the scheduler running."""
    with ExitStack() as stack:
        instances = stack.enter_context(_sandboxes())
        hub = stack.enter_context(_demo_hub(instances))
        _seed(hub, count)
        jobs = [(item.name, stream) for item in instances for stream in hub.registry.stream_names(item.name)]
        reports = sync.sync_with_progress(hub, jobs)
        console.print(sync.summary_table(reports, title="demo sync: tills, shops, online store, call center, mail"))
        for run in hub.run_loyalty_jobs():
            console.print(f"loyalty {run.name}: {escape(run.summary)}")
        _deliver_outbox(hub)
        logins = _demo_accounts(hub)
        if serve:
            _serve(hub, port, logins)


@contextmanager
def _sandboxes() -> Iterator[list[DemoInstance]]:
    """Every emulator on loopback, as the demo's connector instances; stopped afterwards.

    They share one seed, so the same people of the sandbox town (``connectors.town``) shop online and at the
    tills, call the call center and answer surveys, each system knowing them under its own ids and notations.
    """
    # Imported here: reader processes re-import the CLI, and they need no emulator.
    from connectors.example.sandbox import SandboxServer as StoreSandbox
    from connectors.klaviyo.sandbox import NEWSLETTER_LIST_ID
    from connectors.klaviyo.sandbox import SandboxServer as MailSandbox
    from connectors.shopify.sandbox import SandboxServer as OnlineSandbox
    from connectors.square.sandbox import SandboxServer as TillSandbox
    from connectors.zendesk.sandbox import SandboxServer as CallCenterSandbox

    people = 80  # the online store's customers; the other systems know some of them
    with ExitStack() as stack:
        store = stack.enter_context(StoreSandbox(customers=120, orders=400))
        # The online store is on Shopify Plus: a ten times larger cost budget, or its first sync waits ~25 s for it.
        online = stack.enter_context(
            OnlineSandbox(customers=people, orders=160, maximum_available=20_000.0, restore_rate=1_000.0)
        )
        tills = stack.enter_context(TillSandbox(customers=60, orders=200, people=people))
        calls = stack.enter_context(CallCenterSandbox(users=40, tickets=80, people=people))
        mail = stack.enter_context(MailSandbox(profiles=60, events=80))
        _answer_surveys_today(mail.state)
        yield [
            DemoInstance(STORE_INSTANCE, "example", {"base_url": store.url, "page_size": 50}, {
                "token_env": ("MEMBERHUB_DEMO_STORE_TOKEN", store.token),
                "webhook_secret_env": ("MEMBERHUB_DEMO_STORE_WEBHOOK_SECRET", store.state.webhook_secret),
            }),
            DemoInstance(ONLINE_INSTANCE, "shopify", {"shop_url": online.url}, {
                "token_env": ("MEMBERHUB_DEMO_ONLINE_TOKEN", online.access_token),
                "webhook_secret_env": ("MEMBERHUB_DEMO_ONLINE_WEBHOOK_SECRET", online.state.webhook_secret),
            }),
            DemoInstance(TILLS_INSTANCE, "square", {"base_url": tills.url}, {
                "token_env": ("MEMBERHUB_DEMO_TILLS_TOKEN", tills.access_token),
                "webhook_signature_key_env": ("MEMBERHUB_DEMO_TILLS_SIGNATURE_KEY", tills.state.signature_key),
            }),
            DemoInstance(CALL_CENTER_INSTANCE, "zendesk", {"base_url": calls.url, "email": calls.email}, {
                "token_env": ("MEMBERHUB_DEMO_CALLCENTER_TOKEN", calls.token),
                "webhook_secret_env": ("MEMBERHUB_DEMO_CALLCENTER_WEBHOOK_SECRET", calls.state.webhook_secret),
            }),
            DemoInstance(MAIL_INSTANCE, "klaviyo", {"base_url": mail.url, "list_id": NEWSLETTER_LIST_ID}, {
                "api_key_env": ("MEMBERHUB_DEMO_MAIL_API_KEY", mail.api_key),
            }, tables=_MAIL_SURVEYS),
        ]  # fmt: skip


_MAIL_SURVEYS = f"""
[[connectors.{MAIL_INSTANCE}.surveys]]
metric = "{SURVEY_METRIC}"
survey_code = "post-purchase"
survey_code_property = "survey"
answer_properties = {{ satisfaction = "満足度" }}
"""


def _answer_surveys_today(mail: MailState) -> None:
    """Two people answer the post-purchase survey two hours ago, one unhappy: the first sync acts on them.

    The town's older answers are past ``surveys.max_age_days`` and trigger nothing; these issue the rules'
    coupons and the unhappy one's call-center follow-up.
    """
    unhappy, happy = (row["id"] for row in mail.profile_rows()[:2])
    answered = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    mail.add_event(unhappy, SURVEY_METRIC, {"survey": "post-purchase", "満足度": 1}, answered)
    mail.add_event(happy, SURVEY_METRIC, {"survey": "post-purchase", "満足度": 5}, answered)


@contextmanager
def _demo_hub(instances: list[DemoInstance]) -> Iterator[Hub]:
    settings = load_settings()
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    demo_environment(instances)
    settings = replace(settings, config_file=demo_config(instances, settings.home / "hub.toml"))
    rules = settings.home / "loyalty.toml"
    if settings.loyalty_rules is None and not rules.exists():  # never overwrite rules the user put there
        rules.write_text(demo_rules(SHIPPED_RULES.read_text(encoding="utf-8")), encoding="utf-8")
    hub, _ = init_hub(settings)
    try:
        yield hub
    finally:
        hub.close()


def _deliver_outbox(hub: Hub, passes: int = 20) -> None:
    """Deliver what sync and loyalty queued (statuses, coupons, profile changes) to the emulators now."""
    delivered: Counter[str] = Counter()
    for _ in range(passes):
        reports = [report for report in hub.dispatcher.dispatch_due() if report.delivered]
        if not reports:
            break
        delivered.update({report.destination: report.delivered for report in reports})
    summary = ", ".join(f"{name} {count}" for name, count in sorted(delivered.items())) or "nothing due"
    console.print(f"outbox delivered: {summary}")


def _seed(hub: Hub, count: int) -> None:
    existing = hub.members.count()
    if existing < count:
        with console.status(f"seeding {count - existing} Japanese demo members (encrypted)…"):
            hub.members.add_many(demo_profiles(count)[existing:])


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
        serve_console(hub, "127.0.0.1", chosen, trusted_proxy_list(TRUSTED_PROXIES))
    finally:
        hub.sync.request_stop()
        scheduler.shutdown(wait=True)
    console.print("demo stopped")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
