"""``member.consent`` → the customer's email marketing consent (``customerEmailMarketingConsentUpdate``).

A subscribe is sent as ``SUBSCRIBED`` at opt-in level ``SINGLE_OPT_IN`` (the hub records that the member
agreed, not that the address was confirmed), an unsubscribe as ``UNSUBSCRIBED``; ``consentUpdatedAt`` is
when the member changed it. Newest wins, as everywhere in the hub: the customer's consent is read first, and
a change no newer than what Shopify holds is left alone, so a delivery delayed or retried after the customer
changed their mind in the shop never overturns it. Reading the consent also tells a customer that no longer
exists, or has no email address (Shopify then has no consent: ``emailMarketingConsent`` is null), from one
that can take the write: both are refused for that customer. Setting the same consent twice changes
nothing, so a retried delivery is harmless. Only the email channel is sent (SMS consent is not mapped).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime

from connectors.shopify.client import ShopifyClient
from connectors.shopify.writers_messages import (
    CustomerRefused,
    MessagePayload,
    parse_payload,
    raise_user_errors,
    shopify_customer,
)
from core.sync.contract import OutboundMessage

CONSENT_READ = "query ConsentRead($id: ID!) { customer(id: $id) { id emailMarketingConsent { consentUpdatedAt } } }"
CONSENT_UPDATE = """
mutation ConsentUpdate($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) { userErrors { field message code } }
}"""


class ConsentUpdate(MessagePayload):
    """Payload of ``member.consent`` (``core.sync.consent_messages``)."""

    member_id: UUID
    customer_id: str | None = None
    channel: Literal["email"]
    subscribed: bool
    changed_at: AwareDatetime


class ConsentWriter:
    """Sets one shop's customers' email marketing consent for ``member.consent`` messages."""

    def __init__(self, instance: str, client: ShopifyClient) -> None:
        self.instance = instance
        self._client = client

    def deliver(self, message: OutboundMessage) -> None:
        """Record the member's consent on the customer, unless Shopify holds a newer one."""
        change = parse_payload(ConsentUpdate, message)
        customer = shopify_customer(message.kind, self.instance, change.member_id, change.customer_id)
        held = self._held_since(message.kind, change.member_id, customer)
        # Shopify keeps whole seconds: a retried delivery finds its own write and stops here.
        if held is not None and held >= change.changed_at.replace(microsecond=0):
            return
        consent = {
            "marketingState": "SUBSCRIBED" if change.subscribed else "UNSUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN" if change.subscribed else None,
            "consentUpdatedAt": change.changed_at.isoformat(),
        }
        variables = {"input": {"customerId": customer, "emailMarketingConsent": consent}}
        data = self._client.query("consent-update", CONSENT_UPDATE, variables)
        raise_user_errors(message.kind, "consent", data.get("customerEmailMarketingConsentUpdate"))

    def _held_since(self, kind: str, member_id: UUID, customer: str) -> datetime | None:
        """When the customer's consent in Shopify was last changed (``None``: never recorded)."""
        found = self._client.query("consent-read", CONSENT_READ, {"id": customer}).get("customer")
        if not isinstance(found, Mapping):
            raise CustomerRefused(f"{kind}: the customer of member {member_id} does not exist in shop {self.instance}")
        consent = found.get("emailMarketingConsent")
        if not isinstance(consent, Mapping):
            raise CustomerRefused(f"{kind}: the customer of member {member_id} has no email address in shop "
                                  f"{self.instance}")  # fmt: skip
        stamp = consent.get("consentUpdatedAt")
        try:
            return datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
        except ValueError:
            return None  # unreadable: ours is the one to keep
