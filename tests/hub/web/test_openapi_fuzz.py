"""Property-based requests from the app's own OpenAPI document (schemathesis, in-process over ASGI).

Authenticated as an admin token with every scope, no generated request may end in a server error, every answer
must match the documented schema, and no body may carry a stack trace or a member's personal data. Webhooks are
left out: they are authenticated by HMAC signatures (tests/hub/web/test_webhook_endpoint.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from core.access import Role, Scope
from core.members.profile import MemberProfile
from hub.runtime import init_hub
from hub.settings import HubSettings
from hub.web import create_app
from tests.hub.web.conftest import HUB_TOML

MAX_EXAMPLES = 10  # per operation and mode: about 500 requests, well under a minute
LEAKS = ("Traceback", 'File "', ".py", "hanako@example.jp", "090-1234-5678", "09012345678", "山田", "ヤマダ")


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    """One hub for the whole run (each operation would otherwise pay for a fresh database)."""
    root: Path = tmp_path_factory.mktemp("fuzz")
    home = root / "data"
    home.mkdir()
    (home / "hub.toml").write_text(HUB_TOML.replace("openings_per_hour = 50", "openings_per_hour = 100000"))
    settings_ = HubSettings(
        home=home,
        key_file=root / "keys" / "keyring.json",
        database_url=f"sqlite:///{home / 'hub.sqlite3'}",
        config_file=home / "hub.toml",
    )
    hub, _ = init_hub(settings_)
    hub.members.add(
        MemberProfile(name="山田 花子", kana="ヤマダ ハナコ", email="hanako@example.jp", phone="090-1234-5678")
    )
    app = create_app(hub)
    token = app.state.web.tokens.issue("fuzzer", Role.ADMIN, [scope.value for scope in Scope], created_by="test")
    try:
        yield app, token
    finally:
        hub.close()


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: tuple[FastAPI, str]) -> schemathesis.BaseSchema:
    app, _ = fuzzed_app
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app).exclude(path_regex=r"^/webhooks/")


def fuzz(operation: APIOperation, mode: GenerationMode, token: str) -> None:
    """Send ``MAX_EXAMPLES`` generated requests to one operation and check every answer."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time, the failing example is printed
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,  # the same requests on every run: a failure here is never a fluke
    )
    def send(case: schemathesis.Case) -> None:
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error, response_schema_conformance]
        )
        for leak in LEAKS:
            assert leak not in response.text, f"{leak!r} in the answer: {response.text[:300]}"

    send()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_generated_requests_never_fail_the_server_nor_the_schema(
    api_schema: schemathesis.BaseSchema, fuzzed_app: tuple[FastAPI, str], mode: GenerationMode
):
    _, token = fuzzed_app
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        try:
            fuzz(operation, mode, token)
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters, or any string is valid
        except Exception as failure:  # every operation is tried; all failures are reported together
            failures[operation.label] = f"{type(failure).__name__}: {str(failure)[:1500]}"
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())


def test_ids_beyond_the_databases_integers_are_answered_without_a_server_error(fuzzed_app: tuple[FastAPI, str]):
    """The fuzzer's sharpest edge, pinned: SQLite cannot even bind an integer of 2**63 or more."""
    app, token = fuzzed_app
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    answers = {}
    for route in iter_route_contexts(app.routes):
        params = getattr(route, "dependant", None) and route.dependant.path_params
        if not params or not route.path.startswith("/api/"):
            continue
        values = {p.name: str(2**64) if p.field_info.annotation is int else "1" for p in params}
        if all(value == "1" for value in values.values()):
            continue
        for method in route.methods:
            answers[f"{method} {route.path}"] = client.request(method, filled(route.path, values), json={}).status_code
    assert answers and all(status < 500 for status in answers.values()), answers


def filled(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda found: values[found.group(1)], path)


def test_the_documented_422_body_is_the_one_the_api_sends(fuzzed_app: tuple[FastAPI, str]):
    app, token = fuzzed_app
    client = TestClient(app, base_url="https://testserver")
    document = client.get("/api/v1/openapi.json").json()
    responses = document["paths"]["/api/v1/members/search"]["post"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message", "request_id"}
    sent = client.post("/api/v1/members/search", json={}, headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 422
    assert set(sent.json()) == {"error"} and set(schemas["ErrorDetail"]["required"]) <= set(sent.json()["error"])
