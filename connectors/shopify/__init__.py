"""The Shopify connector (GraphQL Admin API), and its loopback emulator in ``.sandbox``.

Read it top to bottom: ``queries`` → ``config`` → ``pacing`` → ``client`` → ``mapping`` → ``streams`` →
``webhooks`` → ``writers`` → ``connector`` → ``plugin``.
"""

from connectors.shopify.config import ShopifyConfig
from connectors.shopify.connector import ShopifyConnector, create_connector
from connectors.shopify.pacing import PacingStats
from connectors.shopify.plugin import SHOPIFY_CONNECTOR_TYPE

__all__ = ["SHOPIFY_CONNECTOR_TYPE", "PacingStats", "ShopifyConfig", "ShopifyConnector", "create_connector"]
