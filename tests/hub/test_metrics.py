"""``GET /metrics`` on a hub that really synced: every value equals what the store holds, and no label leaks PII.

The module's hub has two example connector instances on loopback sandboxes: ``tokyo`` (one garbage page of
orders, so some records are quarantined) and ``osaka`` (every request refused, so its breaker opens at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from connectors.example.sandbox import SandboxServer
from core.access import Role, Scope
from core.errors import InvalidInputError
from core.store.models import OutboxMessage, SyncRun, SyncState
from core.sync.cursor import StreamCursor
from core.sync.outbox import enqueue
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings
from hub.web import create_app

HUB_TOML = """
[hub]
source_priority = ["console", "tokyo", "osaka"]

[connectors.tokyo]
type = "example"
base_url = "{tokyo}"
token_env = "METRICS_TEST_TOKYO_TOKEN"

[connectors.osaka]
type = "example"
base_url = "{osaka}"
token_env = "METRICS_TEST_OSAKA_TOKEN"
breaker_fail_max = 1
breaker_reset_s = 3600
"""
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Synced:
    """The hub, its app and client, the sandbox that fed it, and a token allowed to scrape."""

    def __init__(self, hub: Hub, tokyo: SandboxServer) -> None:
        self.hub = hub
        self.tokyo = tokyo
        self.app = create_app(hub)
        self.client = TestClient(self.app, base_url="https://testserver", follow_redirects=False)
        self.scraper = self.token(Role.SUPERVISOR, [Scope.METRICS], "prometheus")

    def token(self, role: Role, scopes: list[Scope], name: str) -> str:
        return str(self.app.state.web.tokens.issue(name, role, scopes, created_by="test"))

    def scrape(self) -> tuple[str, Samples]:
        response = self.client.get("/metrics", headers={"authorization": f"Bearer {self.scraper}"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }
        return response.text, samples


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    tmp_path = tmp_path_factory.mktemp("metrics")
    with (
        pytest.MonkeyPatch.context() as env,
        SandboxServer(customers=5, orders=12) as tokyo,
        SandboxServer(customers=5, orders=5) as osaka,
    ):
        tokyo.state.serve_garbage(1, path="/v1/orders")
        osaka.state.fail_next(1000, 400)
        env.setenv("METRICS_TEST_TOKYO_TOKEN", tokyo.token)
        env.setenv("METRICS_TEST_OSAKA_TOKEN", osaka.token)
        env.setenv("EXAMPLE_WEBHOOK_SECRETS", tokyo.state.webhook_secret)  # the connector's default variable
        hub = _hub(tmp_path, HUB_TOML.format(tokyo=tokyo.url, osaka=osaka.url))
        try:
            hub.sync.run_many([("tokyo", "customers"), ("tokyo", "orders"), ("osaka", "customers")])
            _outbox_backlog(hub)
            yield Synced(hub, tokyo)
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


def _outbox_backlog(hub: Hub) -> None:
    """Two messages for ``tokyo``: one pending, one given up on."""
    now = datetime.now(UTC)
    with hub.engine.begin() as conn:
        for key in ("metrics-test-1", "metrics-test-2"):
            enqueue(conn, hub.outbox, destination="tokyo", kind="profile", idempotency_key=key, payload={}, now=now)
        conn.execute(
            update(OutboxMessage).where(OutboxMessage.idempotency_key == "metrics-test-2").values(status="failed")
        )


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_record_totals_equal_the_sums_of_the_sync_runs(synced: Synced):
    _, samples = synced.scrape()
    query = select(SyncRun.connector, SyncRun.stream, func.sum(SyncRun.records_read),
                   func.sum(SyncRun.records_written), func.sum(SyncRun.records_quarantined)
                   ).group_by(SyncRun.connector, SyncRun.stream)  # fmt: skip
    with synced.hub.engine.connect() as conn:
        rows = conn.execute(query).all()
    assert {(c, s) for c, s, *_ in rows} == {("tokyo", "customers"), ("tokyo", "orders"), ("osaka", "customers")}
    for connector, stream, read, written, quarantined in rows:
        labels = {"connector": connector, "stream": stream}
        assert _value(samples, "memberhub_sync_records_read_total", **labels) == read
        assert _value(samples, "memberhub_sync_records_written_total", **labels) == written
        assert _value(samples, "memberhub_sync_records_quarantined_total", **labels) == quarantined
    assert _value(samples, "memberhub_sync_records_quarantined_total", connector="tokyo", stream="orders") >= 1


def test_the_failing_instance_shows_an_open_breaker_a_failed_last_run_and_its_error_class(synced: Synced):
    _, samples = synced.scrape()
    assert _value(samples, "memberhub_breaker_state", connector="osaka") == 2
    assert _value(samples, "memberhub_breaker_consecutive_failures", connector="osaka") >= 1
    assert _value(samples, "memberhub_breaker_state", connector="tokyo") == 0
    failed = {"connector": "osaka", "stream": "customers", "status": "failed"}
    assert _value(samples, "memberhub_sync_last_run_status", **failed) == 1
    assert _value(samples, "memberhub_sync_last_run_status", **(failed | {"status": "succeeded"})) == 0
    assert _value(samples, "memberhub_sync_failed_runs_total", connector="osaka", error_class="PermanentError") == 1
    succeeded = {"connector": "tokyo", "stream": "customers"}
    assert _value(samples, "memberhub_sync_last_run_status", **succeeded, status="succeeded") == 1
    finished = _value(samples, "memberhub_sync_last_success_timestamp_seconds", **succeeded)
    assert abs(finished - datetime.now(UTC).timestamp()) < 600


def test_dead_letters_and_the_outbox_backlog_are_counted(synced: Synced):
    _, samples = synced.scrape()
    quarantined = _value(samples, "memberhub_sync_records_quarantined_total", connector="tokyo", stream="orders")
    assert _value(samples, "memberhub_dead_letters_pending", connector="tokyo") == quarantined
    assert _value(samples, "memberhub_dead_letters_pending", connector="osaka") == 0
    assert _value(samples, "memberhub_outbox_messages", destination="tokyo", status="pending") == 1
    assert _value(samples, "memberhub_outbox_messages", destination="tokyo", status="failed") == 1


def test_lag_is_now_minus_the_streams_cursor(synced: Synced):
    with synced.hub.engine.connect() as conn:
        stored = conn.execute(select(SyncState.cursor).where(SyncState.connector == "tokyo",
                                                             SyncState.stream == "customers")).scalar_one()  # fmt: skip
    since = StreamCursor.from_json(stored).updated_since
    assert since is not None
    before = (datetime.now(UTC) - since).total_seconds()
    _, samples = synced.scrape()
    after = (datetime.now(UTC) - since).total_seconds()
    assert before <= _value(samples, "memberhub_sync_lag_seconds", connector="tokyo", stream="customers") <= after
    assert ("memberhub_sync_lag_seconds", frozenset({("connector", "osaka"), ("stream", "customers")})) not in samples


def test_a_webhook_delivery_is_counted_in_the_accept_latency_histogram(synced: Synced):
    labels = {"connector": "tokyo", "outcome": "accepted"}
    _, samples = synced.scrape()
    before = samples.get(("memberhub_webhook_accept_seconds_count", frozenset(labels.items())), 0.0)
    delivery = synced.tokyo.webhook_delivery("customers", "cus_000001")
    response = synced.client.post("/webhooks/tokyo", content=delivery.body, headers=delivery.headers)
    assert response.status_code == 200, response.text
    _, samples = synced.scrape()
    assert _value(samples, "memberhub_webhook_accept_seconds_count", **labels) == before + 1


def test_a_webhook_to_an_unknown_instance_is_labelled_unknown(synced: Synced):
    synced.client.post("/webhooks/no-such-shop-123", content=b"{}")
    text, samples = synced.scrape()
    assert _value(samples, "memberhub_webhook_accept_seconds_count", connector="unknown", outcome="rejected") >= 1
    assert "no-such-shop-123" not in text


def test_every_label_value_is_a_name_of_the_configuration_or_the_code_and_no_pii_appears(synced: Synced):
    text, samples = synced.scrape()
    with synced.hub.engine.connect() as conn:
        error_classes = set(conn.execute(select(SyncRun.error_class).where(SyncRun.error_class.is_not(None))).scalars())
    allowed = {"tokyo", "osaka", "unknown", "customers", "orders", "running", "succeeded", "failed", "partial",
               "pending", "accepted", "rejected"} | error_classes  # fmt: skip
    for _, pairs in samples:
        for name, value in pairs:
            assert value in allowed or (name == "le" and float(value) > 0), (name, value)
    for record_id in synced.tokyo.record_ids("customers"):
        row = synced.tokyo.state.record("customers", record_id)
        for field in ("email", "phone", "family_name", "given_name"):
            assert not row[field] or row[field] not in text


def test_without_credentials_the_scraper_gets_401_not_a_sign_in_page(synced: Synced):
    response = synced.client.get("/metrics")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_token_is_401(synced: Synced):
    response = synced.client.get("/metrics", headers={"authorization": "Bearer mhk_not-a-token"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthenticated"


def test_a_token_without_the_metrics_scope_is_403(synced: Synced):
    token = synced.token(Role.SUPERVISOR, [Scope.SYNC_READ], "sync-reader")
    response = synced.client.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "the metrics scope" in response.json()["error"]["message"]


def test_an_operator_token_cannot_be_given_the_metrics_scope(synced: Synced):
    with pytest.raises(InvalidInputError, match="does not allow metrics"):
        synced.token(Role.OPERATOR, [Scope.METRICS], "operator-scraper")
