"""Webhook deliveries as Shopify sends them: a REST-shaped JSON body signed with the app's client secret.

``X-Shopify-Hmac-Sha256`` is ``base64(HMAC-SHA256(secret, raw body))``; ``X-Shopify-Webhook-Id`` is new for
every delivery, ``X-Shopify-Event-Id`` the same on every delivery of one event (shopify.dev "Verify webhook
deliveries", "Webhook delivery structure"). Times in bodies carry the shop's offset (+09:00), as REST does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.shopify.sandbox.data import JST

TOPIC_HEADER = "X-Shopify-Topic"
SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
EVENT_ID_HEADER = "X-Shopify-Event-Id"
TOPICS = frozenset(
    {
        "customers/create",
        "customers/update",
        "customers/redact",
        "customers/data_request",
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "refunds/create",
        "shop/redact",
    }
)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value of ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class SignedDelivery:
    """One webhook POST as it goes on the wire: headers and the exact body bytes that were signed."""

    topic: str
    headers: dict[str, str]
    body: bytes

    @property
    def timestamp_header(self) -> str | None:
        """``None``: Shopify signs no timestamp (``X-Shopify-Triggered-At`` travels unsigned)."""
        return None

    @property
    def webhook_id(self) -> str:
        """The delivery's ``X-Shopify-Webhook-Id``."""
        return self.headers[WEBHOOK_ID_HEADER]


def signed_delivery(
    topic: str, payload: dict[str, Any], *, secret: str, shop_domain: str, api_version: str, triggered_at: datetime
) -> SignedDelivery:
    """Serialise ``payload`` once and sign those bytes."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        TOPIC_HEADER: topic,
        SIGNATURE_HEADER: signature(secret, body),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        WEBHOOK_ID_HEADER: str(uuid.uuid4()),
        EVENT_ID_HEADER: str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at.isoformat(),
    }
    return SignedDelivery(topic, headers, body)


def numeric_id(global_id: str) -> int:
    """The REST id inside ``gid://shopify/<Type>/<n>``."""
    return int(global_id.rsplit("/", 1)[-1])


def _rest_time(iso: str | None) -> str | None:
    if iso is None:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(JST).isoformat()


def _amount(money_bag: dict[str, Any]) -> str:
    return str(money_bag["shopMoney"]["amount"])


def customer_payload(customer: dict[str, Any]) -> dict[str, Any]:
    """A customer as ``customers/create|update`` carry it."""
    address = customer["defaultAddress"] or {}
    consent = customer["emailMarketingConsent"]
    return {
        "id": numeric_id(customer["id"]),
        "admin_graphql_api_id": customer["id"],
        "email": customer["email"],
        "first_name": customer["firstName"],
        "last_name": customer["lastName"],
        "phone": customer["phone"],
        "verified_email": customer["verifiedEmail"],
        "state": customer["state"].lower(),
        "tags": ", ".join(customer["tags"]),  # REST joins tags with ", "
        "note": customer["note"],
        "currency": "JPY",
        "created_at": _rest_time(customer["createdAt"]),
        "updated_at": _rest_time(customer["updatedAt"]),
        "email_marketing_consent": {
            "state": consent["marketingState"].lower(),
            "opt_in_level": (consent["marketingOptInLevel"] or "").lower() or None,
            "consent_updated_at": _rest_time(consent["consentUpdatedAt"]),
        }
        if consent
        else None,
        "default_address": {
            "first_name": address.get("firstName"),
            "last_name": address.get("lastName"),
            "zip": address.get("zip"),
            "province": address.get("province"),
            "city": address.get("city"),
            "address1": address.get("address1"),
            "address2": address.get("address2"),
            "country": "Japan",
            "country_code": "JP",
            "phone": address.get("phone"),
        },
    }


def refund_payload(order: dict[str, Any], refund: dict[str, Any]) -> dict[str, Any]:
    """A refund as ``refunds/create`` carries it."""
    return {
        "id": numeric_id(refund["id"]),
        "admin_graphql_api_id": refund["id"],
        "order_id": numeric_id(order["id"]),
        "created_at": _rest_time(refund["createdAt"]),
        "processed_at": _rest_time(refund["createdAt"]),
        "note": refund["note"],
        "transactions": [
            {"kind": "refund", "status": "success", "amount": _amount(refund["totalRefundedSet"]), "currency": "JPY"}
        ],
        "refund_line_items": [],
    }


def order_payload(order: dict[str, Any], customer: dict[str, Any] | None) -> dict[str, Any]:
    """An order as ``orders/create|updated|cancelled`` carry it."""
    location = order["retailLocation"]
    return {
        "id": numeric_id(order["id"]),
        "admin_graphql_api_id": order["id"],
        "name": order["name"],
        "order_number": int(order["name"].lstrip("#")),
        "email": customer["email"] if customer else None,
        "created_at": _rest_time(order["createdAt"]),
        "updated_at": _rest_time(order["updatedAt"]),
        "processed_at": _rest_time(order["processedAt"]),
        "cancelled_at": _rest_time(order["cancelledAt"]),
        "cancel_reason": (order["cancelReason"] or "").lower() or None,
        "financial_status": order["displayFinancialStatus"].lower(),
        "currency": "JPY",
        "total_price": _amount(order["totalPriceSet"]),
        "current_total_price": _amount(order["currentTotalPriceSet"]),
        "total_tax": _amount(order["totalTaxSet"]),
        "taxes_included": True,
        "discount_codes": [{"code": code, "type": "fixed_amount"} for code in order["discountCodes"]],
        "source_name": order["sourceName"],
        "location_id": numeric_id(location["id"]) if location else None,
        "customer": customer_payload(customer) if customer else None,
        "line_items": [
            {
                "id": numeric_id(line["id"]),
                "sku": line["sku"],
                "name": line["name"],
                "title": line["title"],
                "quantity": line["quantity"],
                "price": _amount(line["originalUnitPriceSet"]),
            }
            for line in order["_lines"]
        ],
        "refunds": [refund_payload(order, refund) for refund in order["refunds"]],
    }


def redact_payload(shop_id: int, shop_domain: str, customer: dict[str, Any], order_ids: list[int]) -> dict[str, Any]:
    """The GDPR ``customers/redact`` body."""
    return {
        "shop_id": shop_id,
        "shop_domain": shop_domain,
        "customer": {"id": numeric_id(customer["id"]), "email": customer["email"], "phone": customer["phone"]},
        "orders_to_redact": order_ids,
    }


def shop_redact_payload(shop_id: int, shop_domain: str) -> dict[str, Any]:
    """The GDPR ``shop/redact`` body, sent 48 hours after a shop uninstalls the app."""
    return {"shop_id": shop_id, "shop_domain": shop_domain}


def data_request_payload(
    shop_id: int, shop_domain: str, customer: dict[str, Any], order_ids: list[int]
) -> dict[str, Any]:
    """The GDPR ``customers/data_request`` body."""
    return {
        "shop_id": shop_id,
        "shop_domain": shop_domain,
        "orders_requested": order_ids,
        "customer": {"id": numeric_id(customer["id"]), "email": customer["email"], "phone": customer["phone"]},
        "data_request": {"id": 9_999},
    }
