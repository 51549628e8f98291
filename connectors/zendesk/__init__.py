"""The Zendesk Support (call center) connector, and its loopback sandbox in ``.sandbox``.

Read it top to bottom: ``config`` → ``client`` → ``mapping`` → ``streams`` → ``webhooks`` → ``payloads`` →
``writers`` / ``writers_loyalty`` → ``connector`` → ``plugin``.
"""

from connectors.zendesk.config import ZendeskConfig
from connectors.zendesk.connector import ZendeskConnector, create_connector
from connectors.zendesk.plugin import ZENDESK_CONNECTOR_TYPE

__all__ = ["ZENDESK_CONNECTOR_TYPE", "ZendeskConfig", "ZendeskConnector", "create_connector"]
