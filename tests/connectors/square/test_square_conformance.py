"""The Square connector passes the connector conformance kit, as every connector should."""

from __future__ import annotations

from core.sync.conformance import conformance_suite
from tests.connectors.square.factories import square_connector, square_sandbox

TestSquareConformance = conformance_suite(
    streams=("customers", "orders"),
    sandbox=square_sandbox,
    make_connector=square_connector,
    faults=lambda server: server.state,
    name="TestSquareConformance",
)
