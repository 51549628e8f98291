"""The example connector passes the connector conformance kit, as every connector should."""

from __future__ import annotations

from connectors.example.sandbox import SandboxServer
from core.sync.conformance import conformance_suite
from tests.connectors.example.factories import example_connector

TestExampleConformance = conformance_suite(
    streams=("customers", "orders"),
    sandbox=SandboxServer,
    make_connector=example_connector,
    faults=lambda server: server.state,
    name="TestExampleConformance",
)
