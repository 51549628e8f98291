"""The Square POS connector: customers and store orders in, member numbers and profiles out."""

from connectors.square.config import SquareConfig
from connectors.square.connector import SquareConnector, create_connector
from connectors.square.plugin import SQUARE_CONNECTOR_TYPE

__all__ = ["SQUARE_CONNECTOR_TYPE", "SquareConfig", "SquareConnector", "create_connector"]
