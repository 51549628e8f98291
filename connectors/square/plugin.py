"""Registers the Square connector type, through the same hook a third-party connector implements."""

from __future__ import annotations

from connectors.square.config import SquareConfig
from connectors.square.connector import create_connector
from connectors.square.streams import STREAMS
from core.plugins import hookimpl
from core.sync.contract import ConnectorType

SQUARE_CONNECTOR_TYPE = ConnectorType(
    name="square",
    description=(
        "Square POS: customers and completed store orders (incremental, location by location), signed "
        "notifications, member number and profile written back to customers"
    ),
    config_model=SquareConfig,
    factory=create_connector,
    secrets=("token_env", "webhook_signature_key_env"),
    streams=tuple(stream.spec for stream in STREAMS.values()),
)


@hookimpl
def memberhub_connector_types() -> list[ConnectorType]:
    """The Square connector type."""
    return [SQUARE_CONNECTOR_TYPE]
