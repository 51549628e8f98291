"""Registers the Klaviyo connector type, through the same hook a third-party connector implements."""

from __future__ import annotations

from connectors.klaviyo.config import KlaviyoConfig
from connectors.klaviyo.connector import create_connector
from connectors.klaviyo.streams import STREAM_SPECS
from core.plugins import hookimpl
from core.sync.contract import ConnectorType

KLAVIYO_CONNECTOR_TYPE = ConnectorType(
    name="klaviyo",
    description=(
        "Klaviyo email marketing (JSON:API): profiles, email consent and survey answers (polled); "
        "loyalty properties, segment lists, coupon and expiry events, consent"
    ),
    config_model=KlaviyoConfig,
    factory=create_connector,
    secrets=("api_key_env",),
    streams=tuple(STREAM_SPECS.values()),
)


@hookimpl
def memberhub_connector_types() -> list[ConnectorType]:
    """The Klaviyo connector type."""
    return [KLAVIYO_CONNECTOR_TYPE]
