"""The reference connector: the Example POS + CRM REST API, and its loopback sandbox in ``.sandbox``.

Read it top to bottom: ``config`` → ``client`` → ``mapping`` → ``streams`` → ``webhooks`` → ``writers`` →
``connector`` → ``plugin``.
"""

from connectors.example.config import ExampleConfig
from connectors.example.connector import ExampleConnector, create_connector
from connectors.example.plugin import EXAMPLE_CONNECTOR_TYPE

__all__ = ["EXAMPLE_CONNECTOR_TYPE", "ExampleConfig", "ExampleConnector", "create_connector"]
