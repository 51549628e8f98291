"""Registers the example connector type, through the same hook a third-party connector implements."""

from __future__ import annotations

from connectors.example.config import ExampleConfig
from connectors.example.connector import create_connector
from connectors.example.streams import STREAMS
from core.plugins import hookimpl
from core.sync.contract import ConnectorType

EXAMPLE_CONNECTOR_TYPE = ConnectorType(
    name="example",
    description="Example POS + CRM REST API: customers and orders, signed webhooks, member tags",
    config_model=ExampleConfig,
    factory=create_connector,
    secrets=("token_env", "webhook_secret_env"),
    streams=tuple(stream.spec for stream in STREAMS.values()),
)


@hookimpl
def memberhub_connector_types() -> list[ConnectorType]:
    """The example connector type."""
    return [EXAMPLE_CONNECTOR_TYPE]
