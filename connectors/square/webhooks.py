"""Authenticating and reading Square webhook notifications.

``x-square-hmacsha256-signature`` is ``base64(HMAC-SHA256(signature key, notification URL + raw body))``
(developer.squareup.com "Validate notifications"): checked in constant time against every configured key (two
while rotating) before anything parses the body; the URL is the subscription's, configured, never taken from
the request. Square signs no timestamp header; the event's ``created_at`` is inside the signed body and stays
the same on retries, so a notification older than the retry window, or from the future, is refused. The
delivery id is the body's ``event_id``, which the hub deduplicates on.

``customer.created|updated`` carry the customer, mapped like a search result. ``order.created|updated`` carry
ids only: the order is read again and mapped like a page, unless it is not (yet) ``COMPLETED``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.errors import WebhookRejected
from core.records import CanonicalRecord
from core.sync.contract import Rejected
from core.sync.mapping import RecordMapper, map_record
from core.sync.signatures import require_signature
from core.sync.wire import decode_json

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated"})
ORDER_EVENTS = frozenset({"order.created", "order.updated"})

OrderReader = Callable[[str], CanonicalRecord | Rejected | None]
"""The current order with an id, read and mapped like a page; ``None`` if it is gone or not completed."""


class WebhookVerifier:
    """Checks notifications against the configured signature keys, the notification URL and the retry window."""

    def __init__(
        self,
        keys: Sequence[str],
        notification_url: str | None,
        *,
        max_age_s: float,
        max_skew_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = tuple(key.encode() for key in keys if key)
        self._url = (notification_url or "").encode()
        self._max_age_s = max_age_s
        self._max_skew_s = max_skew_s
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the ``event_id`` of an authentic notification in the window; raise ``WebhookRejected`` otherwise."""
        if not self._keys or not self._url:
            raise WebhookRejected("webhooks are not configured: no signature key or notification URL", status=403)
        signed = {name.lower(): value for name, value in headers.items()}
        require_signature(signed.get(SIGNATURE_HEADER), self._url + body, self._keys)
        notification = notification_body(body)
        event_id = notification.get("event_id")
        if not isinstance(event_id, str) or not event_id.strip():
            raise WebhookRejected("notification has no event_id", status=400)
        self._check_age(_created_at(notification))
        return event_id.strip()

    def _check_age(self, moment: datetime) -> None:
        age = self._clock() - moment.timestamp()
        if age > self._max_age_s or -age > self._max_skew_s:
            raise WebhookRejected("notification created outside the accepted window", status=401)


def parse_notification(
    source: str, body: bytes, customer_mapper: RecordMapper, read_order: OrderReader
) -> list[CanonicalRecord | Rejected]:
    """The records a verified notification stands for; an event type we do not read yields none."""
    notification = notification_body(body)
    event_type = notification.get("type")
    data = notification.get("data")
    data = data if isinstance(data, dict) else {}
    if event_type in CUSTOMER_EVENTS:
        carried = data.get("object")
        customer = carried.get("customer") if isinstance(carried, dict) else None
        return [map_record(source, customer, customer_mapper)]
    if event_type in ORDER_EVENTS:
        order_id = data.get("id")
        if not isinstance(order_id, str) or not order_id.strip():
            return [Rejected(None, "notification names no order id", json.dumps(data, ensure_ascii=False))]
        order = read_order(order_id.strip())
        return [] if order is None else [order]
    return []


def notification_body(body: bytes) -> dict[str, Any]:
    """The notification as a JSON object; ``WebhookRejected`` if it is not one."""
    try:
        notification = decode_json(body)
    except ValueError:
        raise WebhookRejected("notification body is not JSON", status=400) from None
    if not isinstance(notification, dict):
        raise WebhookRejected("notification body is not a JSON object", status=400)
    return notification


def _created_at(notification: Mapping[str, Any]) -> datetime:
    try:
        moment = datetime.fromisoformat(str(notification.get("created_at", "")).replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejected("notification created_at missing or malformed", status=400) from None
    if moment.tzinfo is None:
        raise WebhookRejected("notification created_at has no UTC offset", status=400)
    return moment
