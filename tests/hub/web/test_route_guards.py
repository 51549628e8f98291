"""Every route is guarded by role and scope, found by walking the app's routes (new routes are covered as added).

A route declares what it needs through ``hub.web.auth.require(role, scope)``, whose dependency is named
``require_<role>_<scope>``; the tests read that name from each route's dependency tree, so a route that forgets
the guard fails here rather than in production. FastAPI keeps included routers as such in ``app.routes``;
``iter_route_contexts`` gives each route as the app serves it (prefix and router-level dependencies included).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from core.access import ROLE_SCOPES, Role, Scope
from hub.web.auth import require
from tests.hub.web.conftest import WebHub, csrf_of

PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/language"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/webhooks/{instance}"),  # authenticated by the sender's HMAC signature instead
}
PUBLIC_OUTSIDE_FASTAPI = {"/api/v1/openapi.json", "/static"}  # Starlette routes: the schema and the stylesheet
SIGNED_IN_ONLY = {("POST", "/logout")}  # any signed-in user, whatever the role
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
GUARDS = {f"require_{role}_{scope.value.replace(':', '_')}": (role, scope) for role in Role for scope in Scope}
LOWER = {Role.SUPERVISOR: Role.OPERATOR, Role.ADMIN: Role.SUPERVISOR}


@dataclass(frozen=True)
class Endpoint:
    """One method of one route, with the role and scope its guard demands (``None`` when it has none)."""

    method: str
    path: str
    dependant: Dependant
    needs: tuple[Role, Scope] | None  # the strictest guard (guards on the router and the route all apply)
    scopes: frozenset[Scope]  # every guard's scope

    @property
    def is_api(self) -> bool:
        return self.path.startswith(("/api/", "/metrics"))  # machine endpoints answer 401, not a sign-in page

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, member_id: str) -> str:
        """The path with every parameter filled in: UUIDs with a real member, ints with 1, strings safely."""
        values = {
            param.name: member_id if param.field_info.annotation is UUID
            else "1" if param.field_info.annotation is int
            else "example"
            for param in self.dependant.path_params
        }  # fmt: skip
        return re.sub(r"{(\w+)(?::\w+)?}", lambda found: values[found.group(1)], self.path)


def dependency_names(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        yield getattr(sub.call, "__name__", "")
        yield from dependency_names(sub)


def endpoints(web: WebHub) -> list[Endpoint]:
    found = []
    for route in iter_route_contexts(web.app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        guards = [GUARDS[name] for name in dependency_names(route.dependant) if name in GUARDS]
        needs = max(guards, key=lambda guard: guard[0].level) if guards else None
        scopes = frozenset(scope for _, scope in guards)
        found += [Endpoint(method, route.path, route.dependant, needs, scopes) for method in sorted(route.methods)]
    return found


def guarded(web: WebHub) -> list[Endpoint]:
    return [e for e in endpoints(web) if (e.method, e.path) not in PUBLIC | SIGNED_IN_ONLY]


def send(client: TestClient, endpoint: Endpoint, url: str, **kwargs: Any):
    return client.request(endpoint.method, url, **kwargs)


# ── every route has a guard ──────────────────────────────────────────────────────────────────────


def test_every_route_outside_the_public_list_requires_a_role_and_a_scope(web: WebHub):
    unguarded = [str(e) for e in guarded(web) if e.needs is None]
    assert unguarded == [], f"routes without require(role, scope): {unguarded}"
    signed_in_only = [e for e in endpoints(web) if (e.method, e.path) in SIGNED_IN_ONLY]
    assert all("authenticate" in dependency_names(e.dependant) for e in signed_in_only)


def test_a_route_added_without_a_guard_is_caught(web: WebHub):
    router = APIRouter(prefix="/api/v1")
    router.add_api_route("/forgotten", lambda: {"members": []}, methods=["GET"])
    router.add_api_route(
        "/remembered", lambda: {}, methods=["GET"], dependencies=[Depends(require(Role.ADMIN, Scope.ADMIN))]
    )
    web.app.include_router(router)
    needs = {str(e): e.needs for e in guarded(web)}
    assert needs["GET /api/v1/forgotten"] is None
    assert needs["GET /api/v1/remembered"] == (Role.ADMIN, Scope.ADMIN)


def test_the_public_list_names_only_routes_that_exist_and_need_no_guard(web: WebHub):
    present = {(e.method, e.path): e for e in endpoints(web)}
    assert present.keys() >= PUBLIC | SIGNED_IN_ONLY
    assert all(present[key].needs is None for key in PUBLIC | SIGNED_IN_ONLY)


def test_routes_outside_fastapi_are_only_the_schema_and_the_static_files(web: WebHub):
    routes = iter_route_contexts(web.app.routes)
    others = {route.path for route in routes if not isinstance(route.original_route, APIRoute)}
    assert others == PUBLIC_OUTSIDE_FASTAPI


def test_the_walk_finds_the_guards_of_the_known_routes(web: WebHub):
    needs = {str(e): e.needs for e in guarded(web)}
    assert needs["GET /api/v1/members/{member_id}"] == (Role.OPERATOR, Scope.MEMBERS_READ)
    assert needs["POST /members/{member_id}/inquiries"] == (Role.OPERATOR, Scope.INQUIRIES_WRITE)


# ── without credentials ──────────────────────────────────────────────────────────────────────────


def assert_sent_to_sign_in(endpoint: Endpoint, response) -> None:
    if endpoint.is_api:
        assert response.status_code == 401, f"{endpoint}: {response.status_code} {response.text[:200]}"
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.headers["www-authenticate"].startswith("Bearer")
    else:
        assert response.status_code == 303, f"{endpoint}: {response.status_code} {response.text[:200]}"
        assert response.headers["location"] == "/login"


def test_without_credentials_every_guarded_route_answers_401_or_sends_to_sign_in(web: WebHub):
    client = web.client()
    for endpoint in [*guarded(web), *(e for e in endpoints(web) if (e.method, e.path) in SIGNED_IN_ONLY)]:
        assert_sent_to_sign_in(endpoint, send(client, endpoint, endpoint.url(web.members["hanako"])))


def test_made_up_credentials_are_no_credentials(web: WebHub):
    client = web.client()
    client.cookies.set("__Host-memberhub", "made-up-session", domain="testserver.local")  # where httpx keeps it
    bearer = {"Authorization": "Bearer mhk_made-up-token"}
    for endpoint in guarded(web):
        url = endpoint.url(web.members["hanako"])
        assert_sent_to_sign_in(endpoint, send(client, endpoint, url, headers=bearer if endpoint.is_api else {}))


# ── with too small a role or scope ───────────────────────────────────────────────────────────────


def assert_refused(endpoint: Endpoint, response, role: Role) -> None:
    assert response.status_code == 403, f"{endpoint} as {role}: {response.status_code} {response.text[:200]}"
    needs = endpoint.needs
    assert needs is not None and f"this needs the {needs[0]} role" in response.text, response.text[:300]


def test_a_console_user_one_role_below_the_required_one_is_refused(web: WebHub):
    clients = {role: web.signed_in(role.value) for role in LOWER.values()}
    tokens = {role: csrf_of(client) for role, client in clients.items()}
    for endpoint in guarded(web):
        if endpoint.is_api or endpoint.needs is None or endpoint.needs[0] not in LOWER:
            continue
        lower = LOWER[endpoint.needs[0]]
        headers = {"X-CSRF-Token": tokens[lower]} if endpoint.method in UNSAFE else {}
        response = send(clients[lower], endpoint, endpoint.url(web.members["hanako"]), headers=headers)
        assert_refused(endpoint, response, lower)


def test_an_api_token_one_role_below_the_required_one_is_refused(web: WebHub):
    bearers = {
        role: {"Authorization": f"Bearer {web.token(role, sorted(ROLE_SCOPES[role]), name=f'lower-{role}')}"}
        for role in LOWER.values()
    }
    client = web.client()
    for endpoint in guarded(web):
        if not endpoint.is_api or endpoint.needs is None or endpoint.needs[0] not in LOWER:
            continue
        lower = LOWER[endpoint.needs[0]]
        response = send(client, endpoint, endpoint.url(web.members["hanako"]), headers=bearers[lower])
        assert_refused(endpoint, response, lower)


def test_a_token_without_the_scope_is_refused_whatever_its_role(web: WebHub):
    client = web.client()
    bearers: dict[Scope, dict[str, str]] = {}
    for endpoint in guarded(web):
        assert endpoint.needs is not None
        scope = endpoint.needs[1]
        if scope not in bearers:
            others = sorted(set(Scope) - {scope})
            bearers[scope] = {"Authorization": f"Bearer {web.token(Role.ADMIN, others, name=f'no-{scope}')}"}
        response = send(client, endpoint, endpoint.url(web.members["hanako"]), headers=bearers[scope])
        assert response.status_code == 403, f"{endpoint} without {scope}: {response.status_code}"
        assert f"the {scope} scope" in response.text


def test_a_token_with_exactly_the_role_and_scope_passes_the_guard_of_every_read(web: WebHub):
    client = web.client()
    reads = [e for e in guarded(web) if e.method == "GET"]
    for number, endpoint in enumerate(reads):
        assert endpoint.needs is not None
        token = web.token(endpoint.needs[0], sorted(endpoint.scopes), name=f"exact-{number}")
        bearer = {"Authorization": f"Bearer {token}"}
        response = send(client, endpoint, endpoint.url(web.members["hanako"]), headers=bearer)
        assert response.status_code not in (401, 403), f"{endpoint}: {response.status_code} {response.text[:200]}"


def test_a_sync_only_token_cannot_read_members(web: WebHub):
    token = web.token(Role.SUPERVISOR, ["sync:read", "sync:write"], name="sync-bot")
    client = web.client()
    client.headers["Authorization"] = f"Bearer {token}"
    member = web.members["hanako"]
    responses = [
        client.post("/api/v1/members/search", json={"query": "090-1234-5678"}),
        client.get(f"/api/v1/members/{member}"),
        client.get(f"/api/v1/members/{member}/timeline"),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert not any("hanako" in r.text or "090" in r.text for r in responses)
    assert client.get("/api/v1/sync/health").status_code == 200
