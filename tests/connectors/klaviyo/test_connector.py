"""The connector against its sandbox beyond the conformance kit: retries, timeouts, new answers, registration."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from connectors.klaviyo import KLAVIYO_CONNECTOR_TYPE, KlaviyoConnector
from connectors.klaviyo.sandbox import SATISFACTION_METRIC, SandboxServer
from core.errors import PermanentError, RetryableError
from core.plugins.manager import build_plugin_manager
from core.records import ConsentChange, SurveyResponse
from core.sync.conformance import read_all
from core.sync.conformance_batches import records_of
from core.sync.contract import Rejected
from core.sync.registry import ConnectorRegistry, InstanceConfig
from core.sync.retry import RetryPolicy


def test_a_429_storm_is_waited_out_as_retry_after_says(
    sandbox: SandboxServer, connect: Callable[..., KlaviyoConnector]
) -> None:
    connector = connect(retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0))
    sandbox.state.throttle_next(1, retry_after=1)
    started = time.monotonic()
    assert connector.check().ok
    assert 0.9 <= time.monotonic() - started < 5.0
    assert sandbox.state.request_count(status=429) == 1


def test_a_hanging_api_times_out_as_a_retryable_error(
    sandbox: SandboxServer, connect: Callable[..., KlaviyoConnector]
) -> None:
    connector = connect(timeout_s=0.3)
    sandbox.state.hang_next(1, seconds=5.0)
    with pytest.raises(RetryableError, match="timeout"):
        read_all(connector, "profiles")


def test_a_page_that_is_not_json_is_a_permanent_error(sandbox: SandboxServer, connector: KlaviyoConnector) -> None:
    sandbox.state.serve_non_json(1)
    with pytest.raises(PermanentError, match="not JSON"):
        read_all(connector, "profiles")


def test_a_survey_answered_after_a_read_comes_from_the_final_cursor(
    sandbox: SandboxServer, connector: KlaviyoConnector
) -> None:
    final = read_all(connector, "survey_answers")[-1].cursor
    owner = sandbox.state.profile_rows()[3]["id"]
    properties = {"survey": "post-purchase", "満足度": 1, "comment": "店員さんの説明が足りませんでした。"}
    event_id = sandbox.state.add_event(owner, SATISFACTION_METRIC, properties, datetime(2026, 11, 30, 3, tzinfo=UTC))
    [answer] = [r for r in records_of(read_all(connector, "survey_answers", final)) if r.external_id == event_id]
    assert isinstance(answer, SurveyResponse)
    assert (answer.customer_external_id, answer.answers["satisfaction"]) == (owner, "1")
    assert answer.free_text == "店員さんの説明が足りませんでした。"


def test_a_consent_change_in_klaviyo_is_read_as_a_new_consent_event(
    sandbox: SandboxServer, connector: KlaviyoConnector
) -> None:
    final = read_all(connector, "consent")[-1].cursor
    profile_id = next(iter(sorted(sandbox.record_ids("consent")))).partition(":")[0]
    sandbox.state.set_consent(profile_id, "UNSUBSCRIBED", None)
    again = records_of(read_all(connector, "consent", final))
    mine = [r for r in again if isinstance(r, ConsentChange) and r.customer_external_id == profile_id]
    assert [r.subscribed for r in mine] == [False]
    assert mine[0].external_id in sandbox.record_ids("consent")


def test_the_plugin_registers_a_type_the_registry_builds(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KLAVIYO_KEY", sandbox.api_key)
    manager = build_plugin_manager(load_entry_points=False, extra_plugins=["connectors.klaviyo.plugin"])
    settings = {"base_url": sandbox.url, "api_key_env": "TEST_KLAVIYO_KEY", "list_id": "NwsLtr",
                "surveys": [{"metric": SATISFACTION_METRIC, "survey_code": "post-purchase"}]}  # fmt: skip
    registry = ConnectorRegistry.from_plugins(manager, {"mail": InstanceConfig("mail", "klaviyo", settings)})
    connector = registry.build("mail")
    try:
        assert isinstance(connector, KlaviyoConnector) and connector.check().ok
        assert {spec.name for spec in KLAVIYO_CONNECTOR_TYPE.streams} == {"profiles", "consent", "survey_answers"}
    finally:
        connector.close()


def test_a_quarantined_survey_answer_is_mapped_again_with_its_metrics_settings(
    sandbox: SandboxServer, connector: KlaviyoConnector
) -> None:
    sandbox.state.serve_garbage(1, path="/api/events/")
    rejects = [r for r in read_all(connector, "survey_answers")[0].records if isinstance(r, Rejected)]
    ownerless = next(r for r in rejects if "relationships.profile" in r.reason)
    repaired = json.loads(ownerless.payload)
    repaired["relationships"]["profile"] = {"data": {"type": "profile", "id": "01JREPAIRED"}}
    replayed = connector.map_raw("survey_answers", json.dumps(repaired))
    assert isinstance(replayed, SurveyResponse)
    assert (replayed.survey_code, replayed.customer_external_id) == ("post-purchase", "01JREPAIRED")
    assert "satisfaction" in replayed.answers


def test_profile_import_updates_the_profile_an_email_names_and_creates_a_new_one(sandbox: SandboxServer) -> None:
    existing = next(row for row in sandbox.state.profile_rows() if row["attributes"]["email"])
    headers = {"Authorization": f"Klaviyo-API-Key {sandbox.api_key}", "revision": "2025-01-15"}
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5) as api:
        same = {"email": existing["attributes"]["email"], "properties": {"memberhub_rank": "gold"}}
        updated = api.post("/api/profile-import/", json={"data": {"type": "profile", "attributes": same}})
        fresh = {"data": {"type": "profile", "attributes": {"email": "new@example.jp"}}}
        created = api.post("/api/profile-import/", json=fresh)
    assert (updated.status_code, updated.json()["data"]["id"]) == (200, existing["id"])
    assert created.status_code == 201 and created.json()["data"]["id"] not in {existing["id"]}
