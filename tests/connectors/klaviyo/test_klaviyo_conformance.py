from connectors.klaviyo.sandbox import SandboxServer
from core.sync.conformance import conformance_suite
from tests.connectors.klaviyo.factories import klaviyo_connector

# ``SandboxLike`` asks for ``webhook_delivery`` even of a connector that receives no webhooks (the kit skips
# those tests); the Klaviyo sandbox has none to offer.
TestKlaviyoConformance = conformance_suite(
    streams=("profiles", "consent", "survey_answers"),
    sandbox=SandboxServer,  # type: ignore[type-var]
    make_connector=klaviyo_connector,
    faults=lambda server: server.state,
    name="TestKlaviyoConformance",
)
