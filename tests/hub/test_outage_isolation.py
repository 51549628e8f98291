"""One system down never takes the others with it, under the real embedded scheduler (``hub run``).

Five connector instances sync on a two-second schedule against loopback emulators. Three are broken in the
three ways a system goes down — Zendesk refuses connections (nothing listens on its port), Klaviyo hangs
(every request held longer than the client's timeout), Square answers 500 to everything — while the Shopify
shop and the example POS are healthy. The healthy ones must end with every record stored; the broken ones
with their circuit breakers open; and the supervisor's sync-health page must show exactly that.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright

from connectors.example.sandbox import SandboxServer as StoreSandbox
from connectors.klaviyo.sandbox import SandboxServer as MailSandbox
from connectors.shopify.sandbox import SandboxServer as ShopSandbox
from connectors.square.sandbox import SandboxServer as TillSandbox
from core.access import Role
from hub.runtime import init_hub
from hub.settings import HubSettings
from hub.web import create_app
from tests.hub.web.browser import CHROMIUM_ARGS, VIEWPORT, require_chromium, screenshot
from tests.hub.web.conftest import PASSWORD, sign_in
from tests.hub.web.served import served

pytestmark = pytest.mark.slow

HEALTHY, BROKEN = ("shop", "store"), ("tills", "calls", "mail")
_POLL_S = 0.25
_BREAKER = 'schedule = "every 2s"\nbreaker_fail_max = 2\nbreaker_reset_s = 3600\n'
HUB_TOML = """
[hub]
source_priority = ["console", "shop", "store", "tills", "calls", "mail"]
nightly_jobs = "off"

[connectors.shop]
type = "shopify"
shop_url = "{shop}"
token_env = "OUTAGE_SHOP_TOKEN"
webhook_secret_env = "OUTAGE_SHOP_HOOKS"
{breaker}
[connectors.store]
type = "example"
base_url = "{store}"
token_env = "OUTAGE_STORE_TOKEN"
webhook_secret_env = "OUTAGE_STORE_HOOKS"
{breaker}
[connectors.tills]
type = "square"
base_url = "{tills}"
token_env = "OUTAGE_TILLS_TOKEN"
webhook_signature_key_env = "OUTAGE_TILLS_KEYS"
max_attempts = 2
{breaker}
[connectors.calls]
type = "zendesk"
base_url = "http://127.0.0.1:{closed_port}"
email = "agent@callcenter.example.jp"
token_env = "OUTAGE_CALLS_TOKEN"
webhook_secret_env = "OUTAGE_CALLS_HOOKS"
max_attempts = 2
{breaker}
[connectors.mail]
type = "klaviyo"
base_url = "{mail}"
api_key_env = "OUTAGE_MAIL_KEY"
timeout_s = 1
max_attempts = 2
{breaker}
[[connectors.mail.surveys]]
metric = "Survey Answered"
survey_code = "post-purchase"
"""


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def hub_run(hub_cli, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        with (tmp_path / "hub-run.log").open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli.app", "run"], env=hub_cli.env, stdout=log, stderr=subprocess.STDOUT,
                text=True, start_new_session=True,
            )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def query(hub_cli, sql: str, *args: object) -> list[tuple[object, ...]]:
    database = hub_cli.home / "hub.sqlite3"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute(sql, args).fetchall()


def wait_until(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout_s:g}s")
        time.sleep(_POLL_S)


def test_three_systems_down_three_ways_leave_the_others_complete_and_the_health_page_shows_them(
    hub_cli, hub_run, tmp_path: Path
) -> None:
    hub_cli("init")
    with (
        ShopSandbox(customers=30, orders=60, maximum_available=50_000.0, restore_rate=5_000.0) as shop,
        StoreSandbox(customers=40, orders=80) as store,
        TillSandbox(customers=20, orders=40) as tills,
        MailSandbox(profiles=20, events=10) as mail,
    ):
        tills.state.fail_next(100_000, 500)
        mail.state.hang_next(100_000, seconds=5.0)
        hub_cli.env |= {
            "OUTAGE_SHOP_TOKEN": shop.access_token, "OUTAGE_SHOP_HOOKS": shop.state.webhook_secret,
            "OUTAGE_STORE_TOKEN": store.token, "OUTAGE_STORE_HOOKS": store.state.webhook_secret,
            "OUTAGE_TILLS_TOKEN": tills.access_token, "OUTAGE_TILLS_KEYS": tills.state.signature_key,
            "OUTAGE_CALLS_TOKEN": "refused-anyway", "OUTAGE_CALLS_HOOKS": "unused",
            "OUTAGE_MAIL_KEY": mail.api_key,
        }  # fmt: skip
        config = HUB_TOML.format(shop=shop.url, store=store.url, tills=tills.url, mail=mail.url,
                                 closed_port=closed_port(), breaker=_BREAKER)  # fmt: skip
        (hub_cli.home / "hub.toml").write_text(config, encoding="utf-8")
        shop_customers, store_orders = shop.record_ids("customers"), store.record_ids("orders")

        process = hub_run()

        def done() -> bool:
            opened = {row[0] for row in query(hub_cli, "SELECT connector FROM circuit_breakers WHERE state = 'open'")}
            stored = {
                source: {row[0] for row in query(hub_cli, "SELECT external_id FROM purchases WHERE source = ?", source)}
                for source in HEALTHY
            }  # fmt: skip
            linked = {row[0] for row in query(hub_cli, "SELECT external_id FROM source_links WHERE source = 'shop'")}
            return opened == set(BROKEN) and stored["store"] == set(store_orders) and linked >= set(shop_customers)

        wait_until(done, timeout_s=120, what="complete healthy data and three open breakers")
        process.send_signal(signal.SIGTERM)  # as a service manager stops it: the scheduler ends its runs
        assert process.wait(timeout=30) == 0, (tmp_path / "hub-run.log").read_text(encoding="utf-8")

    runs = query(hub_cli, "SELECT connector, stream, status, error_class FROM sync_runs")
    endings = {(status, error) for connector, _, status, error in runs if connector in HEALTHY}
    cut = {("failed", "Interrupted"), ("partial", "Interrupted")}  # runs the shutdown cut; they resume later
    assert endings <= {("succeeded", None), *cut}
    succeeded = {(connector, stream) for connector, stream, status, _ in runs if status == "succeeded"}
    assert succeeded == {(c, s) for c in HEALTHY for s in ("customers", "orders")}
    shop_orders = query(hub_cli, "SELECT count(*) FROM purchases WHERE source = 'shop'")[0][0]
    assert shop_orders > 0

    settings = HubSettings(hub_cli.home, hub_cli.key_file, f"sqlite:///{hub_cli.home / 'hub.sqlite3'}",
                           hub_cli.home / "hub.toml")  # fmt: skip
    hub, _ = init_hub(settings)
    try:
        app = create_app(hub)
        app.state.web.users.add("supervisor", PASSWORD, Role.SUPERVISOR, locale="en")
        client = TestClient(app, base_url="https://testserver", follow_redirects=False)
        sign_in(client, "supervisor", PASSWORD)
        health = {c["name"]: c for c in client.get("/api/v1/sync/health").json()["connectors"]}
        page = client.get("/sync")
        app.state.web.users.add("shift-lead", PASSWORD, Role.SUPERVISOR, locale="ja")
        photograph_sync_health(app, tmp_path)
    finally:
        hub.close()
    assert page.status_code == 200
    for name in BROKEN:
        assert health[name]["breaker"]["state"] == "open", health[name]
        assert health[name]["last_run"]["status"] == "failed"
        row = page.text[page.text.index(f">{name}<") :].split("</tr>")[0]
        assert "breaker-open" in row, row
    for name in HEALTHY:
        assert health[name]["breaker"]["state"] == "closed"
        assert health[name]["last_run"]["error_class"] in (None, "Interrupted")  # the shutdown may cut the last
        row = page.text[page.text.index(f">{name}<") :].split("</tr>")[0]
        assert "breaker-closed" in row and ">failed<" not in row, row  # a run the shutdown cut is no failure


def photograph_sync_health(app: FastAPI, tmp_path: Path) -> None:
    """The sync-health page in Chromium, in Japanese, as the shift lead sees the outage (a test artifact)."""
    chromium = require_chromium()
    with sync_playwright() as playwright, served(app) as base_url:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(base_url=base_url, viewport=VIEWPORT, locale="ja-JP")
            page = context.new_page()
            page.goto("/login")
            page.fill("input[name=username]", "shift-lead")
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            expect(page.locator("#logout")).to_be_visible(timeout=10_000)
            page.goto("/sync")
            expect(page.locator(".breaker-open")).to_have_count(len(BROKEN), timeout=10_000)
            screenshot(page, "sync-health-outage-ja.png", tmp_path)
        finally:
            browser.close()
