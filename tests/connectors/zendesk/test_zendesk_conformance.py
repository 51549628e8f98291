"""The Zendesk connector passes the connector conformance kit, both streams, against its own emulator."""

from __future__ import annotations

from core.sync.conformance import conformance_suite
from tests.connectors.zendesk.factories import small_sandbox, zendesk_connector

TestZendeskConformance = conformance_suite(
    streams=("users", "tickets"),
    sandbox=small_sandbox,
    make_connector=zendesk_connector,
    faults=lambda server: server.state,
    name="TestZendeskConformance",
)
