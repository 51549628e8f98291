"""Zendesk webhooks: signed over timestamp + raw body, fresh within five minutes, either of two secrets; the
user or ticket an event names is read again from the API."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.zendesk import ZendeskConnector
from connectors.zendesk.sandbox import SandboxServer
from connectors.zendesk.sandbox.data import API_USER_ID
from connectors.zendesk.sandbox.webhooks import event, signature, signed_delivery
from connectors.zendesk.webhooks import WebhookVerifier, parse_delivery
from core.errors import WebhookRejected
from core.records import Inquiry, Profile


def first(sandbox: SandboxServer, stream: str) -> str:
    return min(sandbox.record_ids(stream))


def test_a_signed_user_event_gives_the_event_id_and_the_user_as_zendesk_has_it(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    user_id = first(sandbox, "users")
    delivery = sandbox.webhook_delivery("users", user_id)
    assert connector.verify_webhook(delivery.headers, delivery.body) == json.loads(delivery.body)["id"]
    [profile] = connector.parse_webhook(delivery.headers, delivery.body)
    assert isinstance(profile, Profile)
    assert profile.external_id == user_id and profile.name == sandbox.state.record("users", user_id)["name"]


def test_a_ticket_event_reads_the_ticket_with_its_whole_thread(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    ticket_id = first(sandbox, "tickets")
    delivery = sandbox.webhook_delivery("tickets", ticket_id)
    connector.verify_webhook(delivery.headers, delivery.body)
    [inquiry] = connector.parse_webhook(delivery.headers, delivery.body)
    assert isinstance(inquiry, Inquiry)
    thread = sandbox.state.thread(int(ticket_id))
    assert [m.external_id for m in inquiry.messages] == [str(c["id"]) for c in thread]


@pytest.mark.parametrize("age_s", [301.0, -301.0], ids=["stale", "future"])
def test_a_delivery_more_than_five_minutes_off_is_refused(
    sandbox: SandboxServer, connector: ZendeskConnector, age_s: float
) -> None:
    delivery = sandbox.webhook_delivery("users", first(sandbox, "users"), age_s=age_s)
    with pytest.raises(WebhookRejected, match="window"):
        connector.verify_webhook(delivery.headers, delivery.body)


def test_a_delivery_four_minutes_old_is_accepted(sandbox: SandboxServer, connector: ZendeskConnector) -> None:
    delivery = sandbox.webhook_delivery("users", first(sandbox, "users"), age_s=240.0)
    assert connector.verify_webhook(delivery.headers, delivery.body)


def test_a_forged_signature_is_refused(sandbox: SandboxServer, connector: ZendeskConnector) -> None:
    delivery = sandbox.webhook_delivery("tickets", first(sandbox, "tickets"), secret="not-the-secret")
    with pytest.raises(WebhookRejected, match="signature"):
        connector.verify_webhook(delivery.headers, delivery.body)


def test_during_a_rotation_both_secrets_are_accepted_and_no_other(
    sandbox: SandboxServer, connect: Callable[..., ZendeskConnector]
) -> None:
    rotating = ZendeskConnector(
        "zendesk-test", connect().config, token=sandbox.token, webhook_secrets=("new-secret", "old-secret")
    )
    user_id = first(sandbox, "users")
    for secret in ("new-secret", "old-secret"):
        delivery = sandbox.webhook_delivery("users", user_id, secret=secret)
        assert rotating.verify_webhook(delivery.headers, delivery.body)
    retired = sandbox.webhook_delivery("users", user_id, secret=sandbox.state.webhook_secret)
    with pytest.raises(WebhookRejected):
        rotating.verify_webhook(retired.headers, retired.body)
    rotating.close()


def test_without_a_configured_secret_every_delivery_is_refused(
    sandbox: SandboxServer, connect: Callable[..., ZendeskConnector]
) -> None:
    unconfigured = ZendeskConnector("zendesk-test", connect().config, token=sandbox.token)
    delivery = sandbox.webhook_delivery("users", first(sandbox, "users"))
    with pytest.raises(WebhookRejected) as caught:
        unconfigured.verify_webhook(delivery.headers, delivery.body)
    assert caught.value.status == 403
    unconfigured.close()


def test_events_about_agents_organizations_and_vanished_tickets_yield_nothing(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    secret, now = sandbox.state.webhook_secret, sandbox.state.wall_clock()
    agent = event("user", "created", sandbox.state.record("users", API_USER_ID), now)
    organization = {**agent, "type": "zen:event-type:organization.created", "subject": "zen:organization:5"}
    gone = {**agent, "type": "zen:event-type:ticket.status_changed", "subject": "zen:ticket:999999"}
    for body in (agent, organization, gone):
        delivery = signed_delivery(body, secret=secret, at=now)
        connector.verify_webhook(delivery.headers, delivery.body)
        assert connector.parse_webhook(delivery.headers, delivery.body) == []


# Found by fuzzing (fuzz/targets/zendesk_webhook.py): RecursionError and int()'s 4,300-digit ValueError, 500s.
def test_a_signed_body_nested_past_the_json_decoders_limit_is_a_400_not_a_crash() -> None:
    body, at, key = b"[" * 100_000, 1_776_446_290.0, "zendesk-test-key"
    headers = {**signed_delivery({}, secret=key, at=at).headers}
    headers["X-Zendesk-Webhook-Signature"] = signature(key, headers["X-Zendesk-Webhook-Signature-Timestamp"], body)
    with pytest.raises(WebhookRejected) as caught:
        WebhookVerifier([key], clock=lambda: at).verify(headers, body)
    assert caught.value.status == 400


@pytest.mark.parametrize("subject", ["zen:user:" + "1" * 5000, "zen:user:١٢٣"])
def test_a_subject_id_that_is_not_a_zendesk_id_is_a_400(subject: str) -> None:
    body = json.dumps({"id": "e1", "type": "zen:event-type:user.created", "subject": subject}).encode()
    with pytest.raises(WebhookRejected) as caught:
        parse_delivery(body, read_user=lambda user_id: None, read_ticket=lambda ticket_id: None)
    assert caught.value.status == 400
