"""Cross-site request forgery defences and the console session's life: cookies, rotation, logout, expiry."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import text

from core.access import Sessions
from tests.hub.web.conftest import PASSWORD, WebHub, csrf_of, sign_in

SESSION_COOKIE = "__Host-memberhub"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def inquiry_form(csrf: str | None) -> dict[str, str]:
    form = {"channel": "phone", "category": "order", "body": "荷物が届かない", "status": "open"}
    return form | ({"csrf_token": csrf} if csrf is not None else {})


def inquiries_stored(web: WebHub) -> int:
    with web.hub.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM inquiries")).scalar_one())


def cookie_attributes(response, name: str) -> dict[str, str]:
    """The attributes of one Set-Cookie header, lower-cased (``value`` holds the cookie's value)."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        cookie_name, _, value = first.partition("=")
        if cookie_name == name:
            pairs = (attribute.partition("=") for attribute in attributes)
            return {"value": value} | {key.lower(): val.lower() for key, _, val in pairs}
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


def session_of(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert value, "not signed in"
    return value


def is_signed_in(web: WebHub, session: str) -> bool:
    response = web.client().get("/", headers={"Cookie": f"{SESSION_COOKIE}={session}"})
    assert response.status_code in (200, 303)
    return response.status_code == 200


# ── forged forms ─────────────────────────────────────────────────────────────────────────────────


def test_a_form_without_the_sessions_csrf_token_is_refused_and_nothing_is_stored(web: WebHub):
    client = web.signed_in("operator")
    another_sessions = csrf_of(web.signed_in("supervisor"))
    for csrf in (None, "", "wrong-token", another_sessions):
        response = client.post(f"/members/{web.members['hanako']}/inquiries", data=inquiry_form(csrf))
        assert response.status_code == 403, csrf
    assert inquiries_stored(web) == 0


def test_the_same_form_with_the_sessions_csrf_token_is_stored(web: WebHub):
    client = web.signed_in("operator")
    response = client.post(f"/members/{web.members['hanako']}/inquiries", data=inquiry_form(csrf_of(client)))
    assert response.status_code == 303
    assert inquiries_stored(web) == 1


def test_a_form_from_another_origin_is_refused_even_with_the_token(web: WebHub):
    client = web.signed_in("operator")
    url = f"/members/{web.members['hanako']}/inquiries"
    foreign = [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver"},  # same host, other scheme: another origin
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ]
    for headers in foreign:
        assert client.post(url, data=inquiry_form(csrf_of(client)), headers=headers).status_code == 403, headers
    assert inquiries_stored(web) == 0


def test_a_form_from_the_consoles_own_origin_is_accepted(web: WebHub):
    client = web.signed_in("operator")
    headers = {"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"}
    url = f"/members/{web.members['hanako']}/inquiries"
    assert client.post(url, data=inquiry_form(csrf_of(client)), headers=headers).status_code == 303


def test_the_csrf_token_also_travels_as_a_header_for_json(web: WebHub):
    client = web.signed_in("operator")
    url = f"/api/v1/members/{web.members['hanako']}/inquiries"
    body = {"channel": "phone", "body": "電話あり"}
    assert client.post(url, json=body).status_code == 403
    assert client.post(url, json=body, headers={"X-CSRF-Token": csrf_of(client)}).status_code == 201


def test_bearer_requests_need_no_csrf_token(web: WebHub):
    token = web.token("operator", ["inquiries:write"])  # browsers never attach a bearer token on their own
    response = web.client().post(
        f"/api/v1/members/{web.members['hanako']}/inquiries",
        json={"channel": "phone", "body": "電話あり"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201


def test_a_forged_sign_in_is_refused(web: WebHub):
    client = web.client()
    forgeries = [({"Origin": "https://evil.example"}, None), ({"Sec-Fetch-Site": "cross-site"}, None), ({}, "forged")]
    for headers, forged_token in forgeries:
        login_token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
        assert login_token
        data = {"username": "operator", "password": PASSWORD, "login_token": forged_token or login_token.group(1)}
        assert client.post("/login", data=data, headers=headers).status_code == 403, (headers, forged_token)
        assert SESSION_COOKIE not in client.cookies


def test_a_language_switch_from_another_site_is_refused(web: WebHub):
    anonymous = web.client().post("/language", data={"locale": "en"}, headers={"Origin": "https://evil.example"})
    signed_in = web.signed_in("operator").post("/language", data={"locale": "en"})  # no CSRF token
    assert (anonymous.status_code, signed_in.status_code) == (403, 403)
    assert web.app.state.web.users.get("operator").locale == "ja"


def test_state_changing_routes_do_not_answer_get(web: WebHub):
    routes = [route for route in iter_route_contexts(web.app.routes) if isinstance(route.original_route, APIRoute)]
    readable = [route for route in routes if "GET" in route.methods]
    checked = []
    for route in routes:
        if not route.methods <= UNSAFE:
            continue
        url = re.sub(r"{\w+(?::\w+)?}", "1", route.path)
        if any(reader.path_regex.match(url) for reader in readable):
            continue  # GET on this URL is another route's read (e.g. /members/{id} vs a POST below it)
        response = web.client().get(url)
        assert response.status_code == 405, f"GET {url}: {response.status_code}"
        assert set(response.headers["allow"].replace(" ", "").split(",")) <= UNSAFE
        checked.append(url)
    assert {"/logout", "/search", "/api/v1/members/1/inquiries"} <= set(checked)


# ── cookies ──────────────────────────────────────────────────────────────────────────────────────


def test_the_session_cookie_is_host_only_httponly_secure_and_strict(web: WebHub):
    response = sign_in(web.client(), "operator", PASSWORD)
    cookie = cookie_attributes(response, SESSION_COOKIE)
    assert {"httponly", "secure"} <= cookie.keys()
    assert cookie["samesite"] == "strict" and cookie["path"] == "/" and "domain" not in cookie
    assert "max-age" not in cookie and "expires" not in cookie  # a browser session cookie; the server ends it


def test_the_sign_in_form_and_language_cookies_are_httponly_secure_and_strict(web: WebHub):
    client = web.client()
    login = cookie_attributes(client.get("/login"), "memberhub_login")
    language = cookie_attributes(client.post("/language", data={"locale": "en"}), "memberhub_lang")
    for cookie in (login, language):
        assert {"httponly", "secure"} <= cookie.keys() and cookie["samesite"] == "strict", cookie


def test_a_session_token_carries_at_least_128_random_bits(web: WebHub):
    session = session_of(web.signed_in("operator"))
    assert len(base64.urlsafe_b64decode(session + "=" * (-len(session) % 4))) * 8 >= 128


def test_the_database_keeps_only_digests_of_session_tokens(web: WebHub):
    session = session_of(web.signed_in("operator"))
    with web.hub.engine.connect() as conn:
        digests = [bytes(row[0]) for row in conn.execute(text("SELECT token_digest FROM console_sessions"))]
    assert digests and all(session.encode() not in digest for digest in digests)


# ── session life ─────────────────────────────────────────────────────────────────────────────────


def test_signing_in_never_adopts_a_session_id_set_before(web: WebHub):
    client = web.client()
    client.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
    assert sign_in(client, "operator", PASSWORD).status_code == 303
    assert session_of(client) != "planted-by-an-attacker"
    assert not is_signed_in(web, "planted-by-an-attacker")


def test_signing_in_again_rotates_the_session_id_and_ends_the_old_one(web: WebHub):
    client = web.signed_in("operator")
    before = session_of(client)
    assert sign_in(client, "operator", PASSWORD).status_code == 303
    after = session_of(client)
    assert after != before
    assert not is_signed_in(web, before) and is_signed_in(web, after)


def test_logout_ends_the_session_on_the_server(web: WebHub):
    client = web.signed_in("operator")
    session = session_of(client)
    response = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert cookie_attributes(response, SESSION_COOKIE)["value"] in ('""', "")
    assert not is_signed_in(web, session)  # replaying the old cookie does not work


def test_logout_without_the_csrf_token_is_refused_and_the_session_lives_on(web: WebHub):
    client = web.signed_in("operator")
    assert client.post("/logout").status_code == 403
    assert is_signed_in(web, session_of(client))


@pytest.mark.parametrize("change", ["disable", "set_password"])
def test_disabling_a_user_or_changing_the_password_signs_them_out(web: WebHub, change: str):
    session = session_of(web.signed_in("operator"))
    other = session_of(web.signed_in("supervisor"))
    users = web.app.state.web.users
    if change == "disable":
        users.disable("operator")
    else:
        users.set_password("operator", "another long passphrase")
    assert not is_signed_in(web, session)
    assert is_signed_in(web, other)


def test_a_disabled_user_cannot_sign_in(web: WebHub):
    web.app.state.web.users.disable("operator")
    response = sign_in(web.client(), "operator", PASSWORD)
    assert response.status_code == 401


def test_an_idle_session_ends(web: WebHub):
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    web.app.state.web.__dict__["sessions"] = Sessions(web.hub.engine, clock=lambda: now[0])
    client = web.signed_in("operator")
    now[0] += timedelta(minutes=25)
    assert client.get("/").status_code == 200
    now[0] += timedelta(minutes=25)  # 50 minutes in, 25 idle
    assert client.get("/").status_code == 200
    now[0] += timedelta(minutes=31)
    response = client.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_the_language_switch_returns_only_to_a_page_of_the_console(web: WebHub):
    client = web.client()
    for back in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        location = client.post("/language", data={"locale": "en", "back": back}).headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (back, location)
    assert client.post("/language", data={"locale": "en", "back": "/members"}).headers["location"] == "/members"
