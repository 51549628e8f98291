"""Registers the Shopify connector type, through the same hook a third-party connector implements."""

from __future__ import annotations

from connectors.shopify.config import ShopifyConfig
from connectors.shopify.connector import create_connector
from connectors.shopify.streams import STREAMS
from core.plugins import hookimpl
from core.sync.contract import ConnectorType

SHOPIFY_CONNECTOR_TYPE = ConnectorType(
    name="shopify",
    description=(
        "Shopify GraphQL Admin API: customers and orders (incremental, cost-paced), signed webhooks, "
        "rank and segment tags and metafields on customers"
    ),
    config_model=ShopifyConfig,
    factory=create_connector,
    secrets=("token_env", "webhook_secret_env"),
    streams=tuple(stream.spec for stream in STREAMS.values()),
)


@hookimpl
def memberhub_connector_types() -> list[ConnectorType]:
    """The Shopify connector type."""
    return [SHOPIFY_CONNECTOR_TYPE]
