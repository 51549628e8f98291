"""Registers the Zendesk connector type, through the same hook a third-party connector implements."""

from __future__ import annotations

from connectors.zendesk.config import ZendeskConfig
from connectors.zendesk.connector import create_connector
from connectors.zendesk.streams import STREAMS
from core.plugins import hookimpl
from core.sync.contract import ConnectorType

ZENDESK_CONNECTOR_TYPE = ConnectorType(
    name="zendesk",
    description=(
        "Zendesk Support (call center): end-users and tickets with their threads (cursor exports), signed "
        "webhooks, tickets for console inquiries and survey follow-ups, loyalty user fields"
    ),
    config_model=ZendeskConfig,
    factory=create_connector,
    secrets=("token_env", "webhook_secret_env"),
    streams=tuple(stream.spec for stream in STREAMS.values()),
)


@hookimpl
def memberhub_connector_types() -> list[ConnectorType]:
    """The Zendesk connector type."""
    return [ZENDESK_CONNECTOR_TYPE]
