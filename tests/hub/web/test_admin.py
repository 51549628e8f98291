"""Administration over the API and the console: users, tokens, and the audit log with its CSV export."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from core.access import Role
from tests.hub.web.conftest import PASSWORD, WebHub, csrf_of, sign_in

NEW_PASSWORD = "a long and new passphrase"
ADMIN_ROUTES = ("/api/v1/admin/users", "/api/v1/admin/tokens", "/api/v1/audit?since=2020-01-01")
ADMIN_PAGES = ("/admin/users", "/admin/audit", "/admin/audit.csv")


def _admin_api(web: WebHub) -> tuple[TestClient, dict[str, str]]:
    """A client and the headers of an admin integration token."""
    token = web.token(Role.ADMIN, ["admin"], name="admin-robot")
    return web.client(), {"authorization": f"Bearer {token}"}


def _add_user_in_console(admin: TestClient, username: str, role: str = "operator") -> None:
    form = {"username": username, "password": NEW_PASSWORD, "role": role, "locale": "en"}
    answer = admin.post("/admin/users", data=form | {"csrf_token": csrf_of(admin, "/admin/users")})
    assert answer.status_code == 303, answer.text


def test_a_user_added_over_the_api_can_sign_in(web: WebHub):
    client, headers = _admin_api(web)
    body = {"username": "keiko", "password": NEW_PASSWORD, "role": "supervisor", "locale": "en"}
    added = client.post("/api/v1/admin/users", json=body, headers=headers)
    assert added.status_code == 201, added.text
    assert added.json()["role"] == "supervisor" and "password" not in added.text
    browser = web.client()
    assert sign_in(browser, "keiko", NEW_PASSWORD).status_code == 303
    assert browser.get("/sync").status_code == 200


def test_a_user_added_in_the_console_can_sign_in(web: WebHub):
    _add_user_in_console(web.signed_in("admin"), "hiro")
    client, headers = _admin_api(web)
    assert "hiro" in [user["username"] for user in client.get("/api/v1/admin/users", headers=headers).json()]
    assert sign_in(web.client(), "hiro", NEW_PASSWORD).status_code == 303


def test_a_too_short_password_is_refused_without_echoing_it(web: WebHub):
    admin = web.signed_in("admin")
    form = {
        "username": "shorty",
        "password": "tiny-secret",
        "role": "operator",
        "csrf_token": csrf_of(admin, "/admin/users"),
    }
    answer = admin.post("/admin/users", data=form)
    assert answer.status_code == 422 and "12" in answer.text and "tiny-secret" not in answer.text


def test_disabling_a_user_ends_their_live_session(web: WebHub):
    operator = web.signed_in("operator")
    assert operator.get("/").status_code == 200
    admin = web.signed_in("admin")
    answer = admin.post(
        "/admin/users/disable", data={"username": "operator", "csrf_token": csrf_of(admin, "/admin/users")}
    )
    assert answer.status_code == 303
    assert operator.get("/").headers.get("location") == "/login"
    assert operator.get(f"/api/v1/members/{web.members['hanako']}").status_code == 401
    assert sign_in(web.client(), "operator", PASSWORD).status_code == 401


def test_disabling_over_the_api_ends_the_session_too(web: WebHub):
    supervisor = web.signed_in("supervisor")
    client, headers = _admin_api(web)
    assert client.post("/api/v1/admin/users/supervisor/disable", headers=headers).status_code == 204
    assert supervisor.get("/sync").status_code == 303


def test_a_revoked_token_gets_401(web: WebHub):
    client, headers = _admin_api(web)
    body = {"name": "helpdesk", "role": "operator", "scopes": ["members:read"], "expires_days": 30}
    issued = client.post("/api/v1/admin/tokens", json=body, headers=headers)
    assert issued.status_code == 201, issued.text
    bearer = {"authorization": f"Bearer {issued.json()['token']}"}
    member = f"/api/v1/members/{web.members['taro']}"
    assert client.get(member, headers=bearer).status_code == 200
    assert client.post("/api/v1/admin/tokens/helpdesk/revoke", headers=headers).status_code == 204
    assert client.get(member, headers=bearer).status_code == 401
    listed = {token["name"]: token for token in client.get("/api/v1/admin/tokens", headers=headers).json()}
    assert listed["helpdesk"]["revoked_at"] and "token" not in listed["helpdesk"]


def test_a_token_cannot_get_scopes_beyond_its_role(web: WebHub):
    client, headers = _admin_api(web)
    body = {"name": "greedy", "role": "operator", "scopes": ["sync:write"]}
    assert client.post("/api/v1/admin/tokens", json=body, headers=headers).status_code == 422


def test_a_token_issued_in_the_console_is_shown_once_and_revoked_there(web: WebHub):
    admin = web.signed_in("admin")
    form = {"name": "pos-bridge", "role": "supervisor", "scope": ["sync:read", "sync:write"]}
    issued = admin.post("/admin/tokens", data=form | {"csrf_token": csrf_of(admin, "/admin/users")})
    assert issued.status_code == 200, issued.text
    value = issued.text.split('id="issued-token"')[1].split("<code>")[1].split("</code>")[0]
    assert value.startswith("mhk_")
    assert web.client().get("/api/v1/sync/health", headers={"authorization": f"Bearer {value}"}).status_code == 200
    assert value not in admin.get("/admin/users").text
    revoked = admin.post(
        "/admin/tokens/revoke", data={"name": "pos-bridge", "csrf_token": csrf_of(admin, "/admin/users")}
    )
    assert revoked.status_code == 303
    assert web.client().get("/api/v1/sync/health", headers={"authorization": f"Bearer {value}"}).status_code == 401


@pytest.mark.parametrize("path", ADMIN_ROUTES + ADMIN_PAGES)
def test_a_supervisor_is_refused_administration(web: WebHub, path: str):
    assert web.signed_in("supervisor").get(path).status_code == 403


def test_an_admin_token_without_the_admin_scope_is_refused(web: WebHub):
    headers = {"authorization": f"Bearer {web.token(Role.ADMIN, ['sync:read'], name='admin-monitor')}"}
    assert web.client().get("/api/v1/admin/users", headers=headers).status_code == 403


def test_a_form_without_its_csrf_token_changes_nothing(web: WebHub):
    admin = web.signed_in("admin")
    assert admin.post("/admin/users/disable", data={"username": "operator"}).status_code == 403
    assert web.signed_in("operator").get("/").status_code == 200


def _open_hanako(web: WebHub) -> None:
    operator = web.signed_in("operator")
    operator.post("/search", data={"query": "090-1234-5678", "csrf_token": csrf_of(operator)})
    assert operator.get(f"/members/{web.members['hanako']}").status_code == 200


def test_the_audit_csv_has_the_rows_and_no_personal_data(web: WebHub):
    _open_hanako(web)
    download = web.signed_in("admin").get("/admin/audit.csv?since=2020-01-01")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    actions = [(row["actor"], row["action"], row["member_id"]) for row in rows]
    assert ("operator", "search", "") in actions and ("operator", "open", web.members["hanako"]) in actions
    assert all(row["occurred_at"].endswith("+09:00") for row in rows)
    for personal in ("山田", "ヤマダ", "hanako@", "090-1234-5678", "+819012345678", "09012345678"):
        assert personal not in download.text


def test_the_audit_api_returns_rows_since_a_moment(web: WebHub):
    _open_hanako(web)
    client, headers = _admin_api(web)
    page = client.get("/api/v1/audit?since=2020-01-01T00:00:00%2B09:00&limit=1", headers=headers)
    assert page.status_code == 200, page.text
    assert page.json()["truncated"] is True and page.json()["events"][0]["action"] == "search"
    assert client.get("/api/v1/audit?since=yesterday", headers=headers).status_code == 422


def test_the_audit_page_lists_the_latest_rows_and_user_changes(web: WebHub):
    admin = web.signed_in("admin")
    _add_user_in_console(admin, "mika")
    _open_hanako(web)
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    table = page.text.split('id="audit"')[1]
    assert table.index("<code>open</code>") < table.index("<code>user_add</code>")  # newest first
    assert web.members["hanako"] in table and "山田" not in page.text
