"""The connector as the hub builds and calls it: registration, settings, check, reading, replaying dead letters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.zendesk import ZendeskConfig, ZendeskConnector
from connectors.zendesk.sandbox import SandboxServer
from core.errors import PermanentError
from core.plugins.manager import build_plugin_manager
from core.records import Inquiry
from core.sync.conformance import read_all
from core.sync.conformance_batches import records_of, rejects_of
from core.sync.contract import OutboundWriter, Rejected, WebhookReceiver
from core.sync.cursor import StreamCursor
from core.sync.registry import ConnectorRegistry, InstanceConfig


def test_the_installed_plugin_registers_a_type_the_registry_builds_from_hub_toml_settings(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLCENTER_TOKEN", sandbox.token)
    monkeypatch.setenv("CALLCENTER_WEBHOOK_SECRETS", f"rotated,{sandbox.state.webhook_secret}")
    settings = {"base_url": sandbox.url, "email": sandbox.email, "token_env": "CALLCENTER_TOKEN",
                "webhook_secret_env": "CALLCENTER_WEBHOOK_SECRETS"}  # fmt: skip
    instances = {"callcenter": InstanceConfig(name="callcenter", type="zendesk", settings=settings)}
    registry = ConnectorRegistry.from_plugins(build_plugin_manager(), instances)
    connector = registry.build("callcenter")
    assert isinstance(connector, WebhookReceiver) and isinstance(connector, OutboundWriter)
    assert set(connector.outbound_kinds) == {"inquiry.logged", "inquiry.updated", "survey.call_center",
                                             "member.loyalty"}  # fmt: skip
    assert connector.check().ok
    delivery = sandbox.webhook_delivery("users", min(sandbox.record_ids("users")))
    assert connector.verify_webhook(delivery.headers, delivery.body)
    connector.close()


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"email": "a@example.jp"}, "exactly one of subdomain and base_url"),
        ({"subdomain": "tokyo", "base_url": "http://127.0.0.1"}, "exactly one of subdomain and base_url"),
        ({"subdomain": "tokyo"}, "needs the email"),
        ({"subdomain": "Tokyo Shop", "email": "a@example.jp"}, "subdomain"),
        ({"subdomain": "tokyo", "auth": "oauth", "page_size": 5000}, "page_size"),
        ({"subdomain": "tokyo", "auth": "oauth", "rank_field": "member rank"}, "rank_field"),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_key(settings: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        ZendeskConfig(**settings)


def test_a_subdomain_names_the_account_origin() -> None:
    config = ZendeskConfig(subdomain="tokyo-callcenter", auth="oauth")
    assert config.api_root == "https://tokyo-callcenter.zendesk.com" and config.host == "tokyo-callcenter.zendesk.com"


def test_check_names_the_host_and_the_role(connector: ZendeskConnector) -> None:
    result = connector.check()
    assert result.ok and "127.0.0.1" in result.message and "admin" in result.message


def test_check_reports_revoked_credentials_without_raising(sandbox: SandboxServer, connector: ZendeskConnector) -> None:
    sandbox.state.reject_credentials()
    result = connector.check()
    assert not result.ok and "401" in result.message and "credentials rejected" in result.message


def test_the_first_read_starts_at_the_configured_start_time(
    sandbox: SandboxServer, connect: Callable[..., ZendeskConnector]
) -> None:
    since = datetime(2025, 9, 1, tzinfo=UTC)
    records = records_of(read_all(connect(start_time=since), "tickets"))
    expected = {
        t for t in sandbox.record_ids("tickets") if sandbox.state.record("tickets", t)["updated_at"] >= "2025-09"
    }
    assert {r.external_id for r in records} == expected and expected


def test_a_cursor_without_an_after_cursor_resumes_at_its_mark_inclusive(connector: ZendeskConnector) -> None:
    batches = read_all(connector, "users")
    mark = max(r.source_updated_at for r in records_of(batches))
    again = records_of(read_all(connector, "users", StreamCursor(mark).to_json()))
    assert again and {r.source_updated_at for r in again} == {mark}


def test_a_rejected_ticket_bundle_is_mapped_again_once_replayed(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    sandbox.state.serve_garbage(1, path="/api/v2/incremental/tickets")
    rejected = rejects_of(read_all(connector, "tickets"))
    assert rejected and all(isinstance(r, Rejected) for r in rejected)
    fixed = rejected[-1].payload.replace('"対応中"', '"open"')  # the unknown status, after a mapping fix
    replayed = connector.map_raw("tickets", fixed)
    assert isinstance(replayed, Inquiry) and replayed.messages
    assert isinstance(connector.map_raw("tickets", "not json"), Rejected)


def test_an_unknown_stream_is_a_permanent_error(connector: ZendeskConnector) -> None:
    with pytest.raises(PermanentError, match="no stream"):
        read_all(connector, "organizations")
