"""Authenticating and reading Zendesk webhook deliveries.

``X-Zendesk-Webhook-Signature`` is ``base64(HMAC-SHA256(signing secret, timestamp + raw body))`` with no
separator, the timestamp being the ``X-Zendesk-Webhook-Signature-Timestamp`` header (``2026-04-17T17:18:10Z``).
It is checked in constant time against every configured secret (two while rotating) before anything parses
the body, and a timestamp more than five minutes from our clock is refused, so a captured delivery cannot be
replayed. The delivery id is the event's ``id``, the same on every retry of one event.

Event webhooks are notices: the user or ticket they name is read again through the API and mapped like an
export row, because a user event's ``detail`` carries no name or phone and a ticket event no thread, and
deliveries may arrive out of order (the upsert keeps whichever version is newest).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.errors import WebhookRejected
from core.records import CanonicalRecord
from core.sync.contract import Rejected
from core.sync.signatures import require_signature
from core.sync.wire import INTEGER_TEXT, decode_json

SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
INVOCATION_HEADER = "x-zendesk-webhook-invocation-id"
EVENT_PREFIX = "zen:event-type:"

RecordReader = Callable[[int], CanonicalRecord | Rejected | None]
"""The current user or ticket with an id, mapped like an export row; ``None`` if there is none to read."""


class WebhookVerifier:
    """Checks deliveries against the configured secrets and the freshness window."""

    def __init__(
        self, secrets: Sequence[str], *, tolerance_s: float = 300.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = tuple(secret.encode() for secret in secrets if secret)
        self._tolerance_s = tolerance_s
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the delivery id of an authentic, fresh delivery; raise ``WebhookRejected`` otherwise."""
        if not self._keys:
            raise WebhookRejected("webhooks are not configured: no signing secret", status=403)
        signed = {name.lower(): value for name, value in headers.items()}
        timestamp = signed.get(TIMESTAMP_HEADER, "").strip()
        if not timestamp:
            raise WebhookRejected("signature timestamp header missing", status=401)
        require_signature(signed.get(SIGNATURE_HEADER), timestamp.encode() + body, self._keys)
        if abs(self._clock() - _moment(timestamp).timestamp()) > self._tolerance_s:
            raise WebhookRejected("timestamp outside the accepted window", status=401)
        return _delivery_id(signed, body)


def parse_delivery(
    body: bytes, *, read_user: RecordReader, read_ticket: RecordReader
) -> list[CanonicalRecord | Rejected]:
    """The record a verified event stands for, read again; other events (organizations, deletions) yield none."""
    event = _event(body)
    kind = str(event.get("type", "")).removeprefix(EVENT_PREFIX)
    if kind.startswith("user.") and kind != "user.deleted":
        found = read_user(_subject_id(event, "user"))
    elif kind.startswith("ticket.") and kind not in ("ticket.soft_deleted", "ticket.permanently_deleted"):
        found = read_ticket(_subject_id(event, "ticket"))
    else:
        return []
    return [] if found is None else [found]


def _subject_id(event: Mapping[str, Any], kind: str) -> int:
    """The id in ``subject`` (``zen:ticket:35436``), else ``detail.id``."""
    subject = str(event.get("subject", ""))
    prefix = f"zen:{kind}:"
    text = subject.removeprefix(prefix) if subject.startswith(prefix) else None
    if text is None:
        detail = event.get("detail")
        text = str(detail.get("id", "")) if isinstance(detail, Mapping) else ""
    if not INTEGER_TEXT.fullmatch(text):
        raise WebhookRejected(f"{kind} event names no {kind} id", status=400)
    return int(text)


def _delivery_id(signed: Mapping[str, str], body: bytes) -> str:
    event_id = _event(body).get("id")
    if isinstance(event_id, str | int) and str(event_id).strip():
        return str(event_id).strip()
    invocation = signed.get(INVOCATION_HEADER, "").strip()
    if not invocation:
        raise WebhookRejected("delivery names no event id", status=400)
    return invocation


def _event(body: bytes) -> dict[str, Any]:
    try:
        event = decode_json(body)
    except ValueError:
        raise WebhookRejected("delivery body is not JSON", status=400) from None
    if not isinstance(event, dict):
        raise WebhookRejected("delivery body is not a JSON object", status=400)
    return event


def _moment(timestamp: str) -> datetime:
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejected("signature timestamp is malformed", status=400) from None
    if moment.tzinfo is None:
        raise WebhookRejected("signature timestamp has no UTC offset", status=400)
    return moment
