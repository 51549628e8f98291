"""Zendesk event webhooks: timestamped signature, freshness, ``parse_delivery`` → ``WebhookRejected`` only."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.zendesk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookVerifier, parse_delivery
from core.errors import WebhookRejected
from fuzz.delivery import frame, has_header, hmac_base64, unframe, without
from fuzz.seeds import zendesk_account
from fuzz.target import FuzzTarget

SIGNING_KEY = "fuzz-zendesk-signing-secret"
NOW_S = 1_776_446_290.0  # 2026-04-17T17:18:10Z
_VERIFIER = WebhookVerifier([SIGNING_KEY], tolerance_s=300, clock=lambda: NOW_S)


def parse(data: bytes) -> object:
    """Verify (signing an unsigned input first) and parse, as ``ZendeskConnector`` does; records are not re-read."""
    headers, body = unframe(data)
    if not has_header(headers, SIGNATURE_HEADER):
        timestamp = next((value for name, value in headers.items() if name.lower() == TIMESTAMP_HEADER), "")
        headers[SIGNATURE_HEADER] = hmac_base64(SIGNING_KEY, timestamp.strip().encode() + body)
    _VERIFIER.verify(headers, body)
    return parse_delivery(body, read_user=lambda user_id: None, read_ticket=lambda ticket_id: None)


def seeds() -> Iterator[bytes]:
    """User and ticket events of the sandbox's generated account, including the ones the hub ignores."""
    from connectors.zendesk.sandbox.webhooks import event, signed_delivery

    account = zendesk_account()
    user_events = ("created", "email_changed", "deleted", "name_changed")
    ticket_events = ("created", "status_changed", "comment_added", "soft_deleted", "tags_changed", "group_changed")
    bodies = [event("user", kind, user, NOW_S) for user, kind in zip(account["users"][-4:], user_events, strict=True)]
    bodies += [
        event("ticket", kind, ticket, NOW_S) for ticket, kind in zip(account["tickets"], ticket_events, strict=True)
    ]
    for body in bodies:
        delivery = signed_delivery(body, secret=SIGNING_KEY, at=NOW_S)
        yield frame(without(delivery.headers, SIGNATURE_HEADER), delivery.body)


TARGET = FuzzTarget("zendesk_webhook", parse, (WebhookRejected,), seeds, "webhooks")
