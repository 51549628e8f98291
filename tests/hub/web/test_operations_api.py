"""Sync health, runs and dead letters over the API and the supervisor's sync pages, on a hub that really synced.

The module's hub has two example connector instances on loopback sandboxes: ``tokyo`` (one garbage page of
orders, so some records are quarantined) and ``osaka`` (every request refused, so its breaker opens at once).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.example.sandbox import SandboxServer
from core.access import Role
from core.records import Profile
from core.store.models import AuditEvent, SourceLink
from core.sync.dead_letters import Quarantined, quarantine
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings
from hub.web import create_app
from tests.hub.web.conftest import PASSWORD, WebHub, csrf_of

pytestmark = pytest.mark.slow

HUB_TOML = """
[hub]
source_priority = ["console", "tokyo", "osaka"]

[connectors.tokyo]
type = "example"
schedule = "every 5m"
base_url = "{tokyo}"
token_env = "OPS_TEST_TOKYO_TOKEN"
webhook_secret_env = "OPS_TEST_HOOKS"

[connectors.osaka]
type = "example"
base_url = "{osaka}"
token_env = "OPS_TEST_OSAKA_TOKEN"
webhook_secret_env = "OPS_TEST_HOOKS"
breaker_fail_max = 1
breaker_reset_s = 3600
"""
SYNC_ROUTES = ("/api/v1/sync/health", "/api/v1/sync/runs", "/api/v1/dead-letters", "/api/v1/dead-letters/1")


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHub]:
    tmp_path = tmp_path_factory.mktemp("ops")
    with (
        pytest.MonkeyPatch.context() as env,
        SandboxServer(customers=5, orders=12) as tokyo,
        SandboxServer(customers=5, orders=5) as osaka,
    ):
        tokyo.state.serve_garbage(1, path="/v1/orders")
        osaka.state.fail_next(1000, 400)
        env.setenv("OPS_TEST_TOKYO_TOKEN", tokyo.token)
        env.setenv("OPS_TEST_OSAKA_TOKEN", osaka.token)
        env.setenv("OPS_TEST_HOOKS", "s3cret")
        hub = _hub(tmp_path, HUB_TOML.format(tokyo=tokyo.url, osaka=osaka.url))
        try:
            hub.sync.run_many([("tokyo", "orders"), ("osaka", "customers")])
            app = create_app(hub)
            for role in Role:
                app.state.web.users.add(role.value, PASSWORD, role)
            yield WebHub(hub, app, {})
        finally:
            hub.close()


def _hub(tmp_path: Path, toml: str) -> Hub:
    home = tmp_path / "data"
    home.mkdir()
    (home / "hub.toml").write_text(toml, encoding="utf-8")
    settings = HubSettings(
        home=home,
        key_file=tmp_path / "keys" / "keyring.json",
        database_url=f"sqlite:///{home / 'hub.sqlite3'}",
        config_file=home / "hub.toml",
    )
    return init_hub(settings)[0]


def _bearer(web: WebHub, role: Role, scopes: list[str], name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {web.token(role, scopes, name=name)}"}


def _dead_letter_ids(web: WebHub, connector: str) -> list[int]:
    client = web.signed_in("supervisor")
    return [row["id"] for row in client.get(f"/api/v1/dead-letters?connector={connector}").json()]


def _quarantined_profile(web: WebHub, external_id: str) -> int:
    """A valid profile quarantined by an older rule: a replay stores it now."""
    profile = Profile(
        source="tokyo", external_id=external_id, source_updated_at=datetime.now(UTC), name="鈴木 一郎",
        phone="090-2222-3333",
    )  # fmt: skip
    hub = web.hub
    with hub.engine.begin() as conn:
        item = Quarantined.from_record(profile, "refused by an older rule", "ValidationError")
        quarantine(conn, hub.dead_letters, "tokyo", "customers", [item], datetime.now(UTC))
    return max(_dead_letter_ids(web, "tokyo"))


def _audit_rows(web: WebHub, action: str) -> list[AuditEvent]:
    with web.hub.engine.connect() as conn:
        return list(conn.execute(select(AuditEvent).where(AuditEvent.action == action)))


def test_health_shows_the_failing_connector_with_its_breaker_open(synced: WebHub):
    health = synced.signed_in("supervisor").get("/api/v1/sync/health")
    assert health.status_code == 200, health.text
    connectors = {c["name"]: c for c in health.json()["connectors"]}
    osaka, tokyo = connectors["osaka"], connectors["tokyo"]
    assert osaka["breaker"]["state"] == "open" and osaka["breaker"]["last_error_class"] == "PermanentError"
    assert osaka["last_run"]["status"] == "failed" and osaka["last_run"]["error_class"] == "PermanentError"
    assert tokyo["breaker"]["state"] == "closed" and tokyo["type"] == "example" and tokyo["schedule"] == "every 5m"
    assert tokyo["last_run"]["status"] == "succeeded" and tokyo["last_run"]["records_quarantined"] >= 1
    assert tokyo["dead_letters"] >= tokyo["last_run"]["records_quarantined"]
    assert tokyo["outbox"] == {"pending": 0, "failed": 0}


def test_runs_are_listed_newest_first_and_filtered_by_connector(synced: WebHub):
    client = synced.signed_in("supervisor")
    assert {run["connector"] for run in client.get("/api/v1/sync/runs").json()} == {"tokyo", "osaka"}
    only = client.get("/api/v1/sync/runs?connector=osaka&limit=5").json()
    assert [run["stream"] for run in only] == ["customers"] and only[0]["status"] == "failed"


def test_dead_letters_are_listed_without_their_payloads(synced: WebHub):
    listed = synced.signed_in("supervisor").get("/api/v1/dead-letters?connector=tokyo")
    assert listed.status_code == 200 and listed.json()
    for row in listed.json():
        assert row["error_class"] == "MappingError" and row["reason"] and row["status"] == "pending"
        assert "payload" not in row and "payload_ct" not in row


def test_opening_a_dead_letter_shows_its_payload_and_writes_exactly_one_audit_row(synced: WebHub):
    dead_id = _dead_letter_ids(synced, "tokyo")[0]
    before = len(_audit_rows(synced, "dead_letter_view"))
    opened = synced.signed_in("supervisor").get(
        f"/api/v1/dead-letters/{dead_id}", headers={"x-request-id": "req-dl-0001"}
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["payload"]["format"] == "source" and "raw" in opened.json()["payload"]
    rows = _audit_rows(synced, "dead_letter_view")
    assert len(rows) == before + 1
    assert (rows[-1].actor, rows[-1].role, rows[-1].member_id) == ("supervisor", "supervisor", None)
    assert rows[-1].detail == {"dead_letter": dead_id} and rows[-1].request_id == "req-dl-0001"


def test_replaying_a_fixed_record_stores_it_once(synced: WebHub):
    dead_id = _quarantined_profile(synced, "c-replay-api")
    headers = _bearer(synced, Role.SUPERVISOR, ["sync:write"], "replayer")
    client = synced.client()
    replayed = client.post(f"/api/v1/dead-letters/{dead_id}/replay", headers=headers)
    assert replayed.json() == {"dead_letter_id": dead_id, "stored": True, "reason": "stored"}
    assert client.post(f"/api/v1/dead-letters/{dead_id}/replay", headers=headers).status_code == 404
    with synced.hub.engine.connect() as conn:
        links = conn.scalar(select(func.count()).where(SourceLink.external_id == "c-replay-api"))
    assert links == 1


def test_replaying_a_record_that_still_fails_leaves_it_pending(synced: WebHub):
    dead_id = _dead_letter_ids(synced, "tokyo")[0]
    client = synced.signed_in("supervisor")
    replayed = client.post(f"/api/v1/dead-letters/{dead_id}/replay", headers={"x-csrf-token": csrf_of(client, "/sync")})
    assert replayed.status_code == 200 and replayed.json()["stored"] is False and replayed.json()["reason"]
    assert dead_id in _dead_letter_ids(synced, "tokyo")


def test_an_unknown_dead_letter_is_404(synced: WebHub):
    client = synced.signed_in("supervisor")
    assert client.get("/api/v1/dead-letters/999999").status_code == 404


@pytest.mark.parametrize("path", SYNC_ROUTES)
def test_an_operator_is_refused_the_sync_routes(synced: WebHub, path: str):
    assert synced.signed_in("operator").get(path).status_code == 403


def test_an_operator_is_refused_a_replay(synced: WebHub):
    client = synced.signed_in("operator")
    answer = client.post("/api/v1/dead-letters/1/replay", headers={"x-csrf-token": csrf_of(client)})
    assert answer.status_code == 403


def test_a_token_with_sync_read_sees_health_but_not_dead_letters(synced: WebHub):
    headers = _bearer(synced, Role.SUPERVISOR, ["sync:read"], "monitor")
    client = synced.client()
    assert client.get("/api/v1/sync/health", headers=headers).status_code == 200
    assert client.get("/api/v1/dead-letters", headers=headers).status_code == 403


def test_the_sync_page_shows_the_open_breaker_in_red_and_links_the_dead_letters(synced: WebHub):
    page = synced.signed_in("supervisor").get("/sync")
    assert page.status_code == 200, page.text
    osaka = page.text.split('id="connector-osaka"')[1].split("</tr>")[0]
    assert 'class="badge off breaker-open"' in osaka and "PermanentError" in osaka
    tokyo = page.text.split('id="connector-tokyo"')[1].split("</tr>")[0]
    assert 'href="/sync/dead-letters?connector=tokyo"' in tokyo and "breaker-closed" in tokyo


def test_the_dead_letter_page_replays_and_redirects_with_the_outcome(synced: WebHub):
    dead_id = _quarantined_profile(synced, "c-replay-console")
    client = synced.signed_in("supervisor")
    listed = client.get("/sync/dead-letters?connector=tokyo")
    assert f'id="dead-letter-{dead_id}"' in listed.text and "鈴木" not in listed.text
    csrf = csrf_of(client, "/sync/dead-letters")
    answer = client.post(f"/sync/dead-letters/{dead_id}/replay", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/sync/dead-letters?replayed={dead_id}&outcome=stored"
    shown = client.get(answer.headers["location"])
    assert f"#{dead_id}" in shown.text and f'id="dead-letter-{dead_id}"' not in shown.text


def test_an_operator_gets_403_on_the_sync_pages(synced: WebHub):
    client = synced.signed_in("operator")
    assert client.get("/sync").status_code == 403
    assert client.get("/sync/dead-letters").status_code == 403


def test_health_json_carries_no_payloads(synced: WebHub):
    text = json.dumps(synced.signed_in("admin").get("/api/v1/sync/health").json())
    assert "raw" not in text and "payload" not in text
