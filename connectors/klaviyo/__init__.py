"""The Klaviyo connector (email marketing), and its loopback sandbox in ``.sandbox``.

Read it top to bottom: ``config`` → ``client`` → ``mapping`` → ``streams`` → ``reading`` → ``payloads`` and
the ``writers_*`` modules → ``connector`` → ``plugin``.
"""

from connectors.klaviyo.config import KlaviyoConfig, SurveyMetric
from connectors.klaviyo.connector import KlaviyoConnector, create_connector
from connectors.klaviyo.plugin import KLAVIYO_CONNECTOR_TYPE

__all__ = ["KLAVIYO_CONNECTOR_TYPE", "KlaviyoConfig", "KlaviyoConnector", "SurveyMetric", "create_connector"]
