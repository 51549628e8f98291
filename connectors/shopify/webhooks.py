"""Authenticating and reading Shopify webhook deliveries.

``X-Shopify-Hmac-Sha256`` is ``base64(HMAC-SHA256(client secret, raw body))`` (shopify.dev "Verify webhook
deliveries"): checked in constant time against every configured secret (two while rotating) before anything
parses the body. Shopify signs no timestamp; ``X-Shopify-Triggered-At`` keeps the original trigger time on
retries, so a delivery older than the retry window, or from the future, is refused. The delivery id is
``X-Shopify-Webhook-Id``, which the hub deduplicates on.

The mandatory compliance topics (shopify.dev "Privacy law compliance") become request records that carry ids
only: ``customers/redact`` an ``ErasureRequest`` for the customer, ``shop/redact`` (48 hours after the shop
uninstalled the app) an ``ErasureRequest`` for everything this connector instance — one shop — sent, and
``customers/data_request`` a ``DataRequest``. The customer's email and phone in those bodies are never read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.shopify.mapping import graphql_id, rest_customer_to_profile
from core.errors import WebhookRejected
from core.records import CanonicalRecord, DataRequest, ErasureRequest
from core.sync.contract import Rejected
from core.sync.mapping import map_record
from core.sync.signatures import require_signature
from core.sync.wire import INTEGER_TEXT, decode_json

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TOPIC_HEADER = "x-shopify-topic"
TRIGGERED_AT_HEADER = "x-shopify-triggered-at"
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled", "orders/paid"})
REFUND_TOPICS = frozenset({"refunds/create"})
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
"""Mandatory for every app; each becomes an ``ErasureRequest`` or a ``DataRequest`` (ids only)."""
# What a compliance delivery's dead letter keeps when it names no id: never the customer's email or phone.
_COMPLIANCE_ID_FIELDS = ("shop_id", "shop_domain", "orders_to_redact", "orders_requested", "data_request")
_MAX_ID = 2**63 - 1

OrderReader = Callable[[str], CanonicalRecord | Rejected | None]
"""The current ``Order`` with a global id, read and mapped like a page; ``None`` if the shop no longer has it."""


class WebhookVerifier:
    """Checks deliveries against the configured secrets and the retry window."""

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        max_age_s: float,
        max_skew_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = tuple(secret.encode() for secret in secrets if secret)
        self._max_age_s = max_age_s
        self._max_skew_s = max_skew_s
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the delivery id of an authentic delivery in the window; raise ``WebhookRejected`` otherwise."""
        if not self._keys:
            raise WebhookRejected("webhooks are not configured: no client secret", status=403)
        signed = {name.lower(): value for name, value in headers.items()}
        require_signature(signed.get(SIGNATURE_HEADER), body, self._keys)
        delivery_id = signed.get(WEBHOOK_ID_HEADER, "").strip()
        if not delivery_id or not signed.get(TOPIC_HEADER, "").strip():
            raise WebhookRejected("webhook id or topic header missing", status=400)
        self._check_age(_triggered_at(signed))
        return delivery_id

    def _check_age(self, moment: datetime) -> None:
        age = self._clock() - moment.timestamp()
        if age > self._max_age_s or -age > self._max_skew_s:
            raise WebhookRejected("delivery triggered outside the accepted window", status=401)


def parse_delivery(
    source: str, headers: Mapping[str, str], body: bytes, read_order: OrderReader
) -> list[CanonicalRecord | Rejected]:
    """The records a verified delivery stands for; a topic we do not read yields none.

    Customers are mapped from the payload. An order or refund delivery is a notice: the order is read again
    through GraphQL and mapped like a page, since ``refunds/create`` carries no order and deliveries can arrive
    out of order; the upsert keeps whichever version is newest. A compliance delivery is a request dated by
    its trigger time (see the module's docstring).
    """
    signed = {name.lower(): value for name, value in headers.items()}
    topic = signed.get(TOPIC_HEADER, "").strip()
    payload = _payload(body)
    if topic in COMPLIANCE_TOPICS:
        return [_compliance_request(source, topic, payload, _triggered_at(signed))]
    if topic in CUSTOMER_TOPICS:
        return [map_record(source, payload, rest_customer_to_profile, external_id=graphql_id)]
    if topic in ORDER_TOPICS | REFUND_TOPICS:
        order_id = _order_gid(payload, refund=topic in REFUND_TOPICS)
        if order_id is None:
            return [Rejected(None, "delivery names no order id", _text(payload))]
        order = read_order(order_id)
        return [] if order is None else [order]
    return []


def _compliance_request(
    source: str, topic: str, payload: Mapping[str, Any], requested_at: datetime
) -> CanonicalRecord | Rejected:
    """A compliance delivery as a request record keyed by a GraphQL global id, like the streams' records."""
    if topic == "shop/redact":
        shop = _number(payload.get("shop_id"))
        if shop is None:
            return Rejected(None, "shop/redact names no shop id", _ids_only(payload))
        return ErasureRequest(
            source=source, external_id=f"gid://shopify/Shop/{shop}", source_updated_at=requested_at, scope="source"
        )
    customer = payload.get("customer")
    number = _number(customer.get("id")) if isinstance(customer, Mapping) else None
    if number is None:
        return Rejected(None, f"{topic} names no customer id", _ids_only(payload))
    customer_id = f"gid://shopify/Customer/{number}"
    if topic == "customers/redact":
        return ErasureRequest(source=source, external_id=customer_id, source_updated_at=requested_at)
    request = payload.get("data_request")
    request_id = _number(request.get("id")) if isinstance(request, Mapping) else None
    return DataRequest(
        source=source, external_id=customer_id, source_updated_at=requested_at,
        request_id=None if request_id is None else str(request_id),
    )  # fmt: skip


def _number(value: Any) -> int | None:
    """A REST id: a positive 64-bit integer, or its decimal string; anything longer is no Shopify id."""
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _MAX_ID else None


def _ids_only(payload: Mapping[str, Any]) -> str:
    return _text({name: payload[name] for name in _COMPLIANCE_ID_FIELDS if name in payload})


def _triggered_at(signed: Mapping[str, str]) -> datetime:
    """``X-Shopify-Triggered-At`` (headers with lower-case names), an aware datetime; ``WebhookRejected`` if not."""
    try:
        moment = datetime.fromisoformat(signed.get(TRIGGERED_AT_HEADER, "").strip().replace("Z", "+00:00"))
    except ValueError:
        raise WebhookRejected("triggered-at header missing or malformed", status=400) from None
    if moment.tzinfo is None:
        raise WebhookRejected("triggered-at header has no UTC offset", status=400)
    return moment


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = decode_json(body)
    except ValueError:
        raise WebhookRejected("delivery body is not JSON", status=400) from None
    if not isinstance(payload, dict):
        raise WebhookRejected("delivery body is not a JSON object", status=400)
    return payload


def _order_gid(payload: Mapping[str, Any], *, refund: bool) -> str | None:
    if not refund and isinstance(payload.get("admin_graphql_api_id"), str):
        return str(payload["admin_graphql_api_id"])
    number = payload.get("order_id" if refund else "id")
    return f"gid://shopify/Order/{number}" if isinstance(number, int) and number > 0 else None


def _text(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)
