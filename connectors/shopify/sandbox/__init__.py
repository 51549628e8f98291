"""A loopback emulator of the Shopify GraphQL Admin API, for tests, the conformance kit and the demo.

``SandboxServer()`` serves generated Japanese customers and orders at ``/admin/api/{version}/graphql.json`` with
Shopify's calculated query cost and THROTTLED errors, bulk query operations with JSONL results, customer tag,
metafield and email consent writes (``tagsAdd``, ``tagsRemove``, ``metafieldsSet``,
``customerEmailMarketingConsentUpdate``), basic code discounts (``discountCodeBasicCreate``,
``codeDiscountNodeByCode``), and signed webhook deliveries; its ``state`` mutates records and injects faults.
"""

from connectors.shopify.sandbox.app import create_app, served_version
from connectors.shopify.sandbox.server import SandboxServer
from connectors.shopify.sandbox.state import SUPPORTED_VERSIONS, LoggedRequest, SandboxState
from connectors.shopify.sandbox.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    SignedDelivery,
    signature,
)

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "SUPPORTED_VERSIONS",
    "TOPIC_HEADER",
    "WEBHOOK_ID_HEADER",
    "LoggedRequest",
    "SandboxServer",
    "SandboxState",
    "SignedDelivery",
    "create_app",
    "served_version",
    "signature",
]
