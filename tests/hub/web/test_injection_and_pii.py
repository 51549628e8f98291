"""Hostile input stays inert, and personal data stays out of logs, error answers and the audit log's text.

The audit log itself is append-only: the database refuses UPDATE and DELETE on it (SQLite and PostgreSQL).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from core.members.audit import Actor, record_member_access
from core.store.audit import AUDIT
from hub.runtime import init_hub
from hub.settings import HubSettings
from tests.hub.web.captured_logs import captured_logs
from tests.hub.web.conftest import PASSWORD, WebHub, csrf_of

PAYLOADS = ("' OR 1=1 --", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
MEMBER_PII = ("hanako@example.jp", "090-1234-5678", "09012345678", "山田", "花子", "ヤマダ", "ハナコ")
INQUIRY_TEXT = "配送先は hanako@example.jp の自宅です"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    with captured_logs() as stream:
        yield stream


def audit_rows(web: WebHub) -> list[dict[str, object]]:
    with web.hub.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(AUDIT).order_by(AUDIT.c.id))]


def assert_inert(html: str, payload: str) -> None:
    assert payload not in html
    assert str(escape(payload)) in html


# ── injection ────────────────────────────────────────────────────────────────────────────────────


def test_hostile_search_text_finds_nothing_and_is_shown_escaped(web: WebHub):
    client = web.signed_in("operator")
    api = web.client()
    api.headers["Authorization"] = f"Bearer {web.token('operator', ['members:read'])}"
    for payload in PAYLOADS:
        page = client.post("/search", data={"query": payload, "csrf_token": csrf_of(client)})
        assert page.status_code == 200
        assert_inert(page.text, payload)
        assert 'id="results"' not in page.text
        found = api.post("/api/v1/members/search", json={"query": payload})
        assert (found.status_code, found.json()) == (200, {"results": []})
    with web.hub.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM members")).scalar_one() == 2


def test_hostile_inquiry_text_is_stored_as_written_and_shown_escaped(web: WebHub):
    client = web.signed_in("operator")
    member = web.members["hanako"]
    for payload in PAYLOADS:
        form = {"channel": "web", "category": "other", "subject": payload, "body": f"本文 {payload}"}
        response = client.post(f"/members/{member}/inquiries", data=form | {"csrf_token": csrf_of(client)})
        assert response.status_code == 303
    page = client.get(f"/members/{member}")
    assert page.status_code == 200
    for payload in PAYLOADS:
        assert_inert(page.text, payload)
    bearer = {"Authorization": f"Bearer {web.token('operator', ['members:read'])}"}
    timeline = web.client().get(f"/api/v1/members/{member}/timeline", headers=bearer).json()
    subjects = {entry.get("subject") for entry in timeline["entries"]}
    assert set(PAYLOADS) <= subjects  # stored verbatim: escaping is the page's job, not the database's


# ── logs ─────────────────────────────────────────────────────────────────────────────────────────


def test_access_log_lines_name_the_route_and_never_the_personal_data(web: WebHub, access_log: io.StringIO):
    client = web.signed_in("operator")
    member = web.members["hanako"]
    client.post("/search", data={"query": "hanako@example.jp", "csrf_token": csrf_of(client)})
    client.get(f"/members/{member}?purpose=console")
    form = {"channel": "phone", "category": "delivery", "subject": "山田 花子 様", "body": INQUIRY_TEXT}
    client.post(f"/members/{member}/inquiries", data=form | {"csrf_token": csrf_of(client)})
    bearer = {"Authorization": f"Bearer {web.token('operator', ['members:read'])}"}
    web.client().post("/api/v1/members/search", json={"query": "090-1234-5678"}, headers=bearer)
    lines = [json.loads(line) for line in access_log.getvalue().splitlines()]
    requests = [line for line in lines if line["event"] == "http_request"]
    assert {line["path_template"] for line in requests} >= {"/search", "/members/{member_id}", "/api/v1/members/search"}
    output = access_log.getvalue()
    for leak in (*MEMBER_PII, INQUIRY_TEXT, "配送先", "purpose=", PASSWORD, "testclient"):
        assert leak not in output, f"{leak!r} in the log:\n{output}"


# ── error answers ────────────────────────────────────────────────────────────────────────────────


def test_validation_errors_of_the_api_do_not_echo_what_was_sent(web: WebHub):
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('admin', ['members:read', 'inquiries:write'])}"
    member = web.members["hanako"]
    answers = [
        client.post("/api/v1/members/search", json={"query": "hanako@example.jp " * 20}),
        client.post("/api/v1/members/search", json={"query": "x", "hanako@example.jp": "090-1234-5678"}),
        client.post("/api/v1/members/search", content=b'{"query": "hanako@example.jp"', headers=JSON),
        client.post(f"/api/v1/members/{member}/inquiries", json={"channel": "hanako@example.jp", "body": "x"}),
        client.get("/api/v1/members/hanako@example.jp"),
        client.get(f"/api/v1/members/{member}", params={"purpose": "call from hanako@example.jp"}),
    ]
    for response in answers:
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_request"
        for leak in ("hanako", "example.jp", "090-1234-5678", "xample"):
            assert leak not in response.text, response.text


def test_validation_errors_of_the_console_do_not_echo_what_was_sent(web: WebHub):
    client = web.signed_in("operator")
    member = web.members["hanako"]
    csrf = csrf_of(client)
    inquiry = {"channel": "phone", "category": "hanako@example.jp", "body": "x", "csrf_token": csrf}
    answers = [
        client.post("/search", data={"query": "hanako@example.jp " * 20, "csrf_token": csrf}),
        client.post(f"/members/{member}/inquiries", data=inquiry),
        client.get("/members/hanako@example.jp"),
    ]
    for response in answers:
        assert response.status_code == 422, response.text
        page = response.text
        assert "hanako" not in page and "example.jp" not in page, page


def test_not_found_and_forbidden_answers_name_no_member_data(web: WebHub):
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('operator', ['members:read'])}"
    missing = client.get("/api/v1/members/0192f4e8-3c1a-7d2b-9e4f-5a6b7c8d9e0f")
    forbidden = client.post(f"/api/v1/members/{web.members['hanako']}/inquiries", json={"channel": "web", "body": "x"})
    assert (missing.status_code, forbidden.status_code) == (404, 403)
    for response in (missing, forbidden):
        assert not any(leak in response.text for leak in MEMBER_PII)


# ── audit ────────────────────────────────────────────────────────────────────────────────────────


def test_each_member_opening_writes_exactly_one_audit_row(web: WebHub):
    member = web.members["hanako"]
    console = web.signed_in("operator")
    page = console.get(f"/members/{member}")
    bearer = {"Authorization": f"Bearer {web.token('operator', ['members:read'], name='crm')}"}
    api = web.client().get(f"/api/v1/members/{member}", params={"purpose": "ticket 42"}, headers=bearer)
    assert (page.status_code, api.status_code) == (200, 200)
    opens = [row for row in audit_rows(web) if row["action"] == "open"]
    assert [(r["actor"], r["role"], str(r["member_id"]), r["purpose"]) for r in opens] == [
        ("operator", "operator", member, "console"),
        ("token:crm", "operator", member, "ticket 42"),
    ]
    assert [r["request_id"] for r in opens] == [page.headers["x-request-id"], api.headers["x-request-id"]]
    assert all(r["occurred_at"].utcoffset() == timedelta(0) for r in opens)  # type: ignore[attr-defined]


def test_a_search_is_audited_without_its_query(web: WebHub):
    client = web.signed_in("operator")
    response = client.post("/search", data={"query": "hanako@example.jp", "csrf_token": csrf_of(client)})
    bearer = {"Authorization": f"Bearer {web.token('operator', ['members:read'])}"}
    web.client().post("/api/v1/members/search", json={"query": "090-1234-5678"}, headers=bearer)
    searches = [row for row in audit_rows(web) if row["action"] == "search"]
    assert len(searches) == 2
    assert searches[0]["request_id"] == response.headers["x-request-id"]
    assert all(row["member_id"] is None for row in searches)
    dumped = repr(audit_rows(web))
    assert not any(leak in dumped for leak in MEMBER_PII)


def test_the_audit_log_refuses_update_and_delete_on_sqlite(web: WebHub):
    record_member_access(web.hub.engine, Actor("operator", "operator"), "open", None, purpose="test")
    assert_append_only(
        web.hub.engine, statements=("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log")
    )


@pytest.mark.postgres
def test_the_audit_log_refuses_update_delete_and_truncate_on_postgresql(pg_url: str, tmp_path: Path):
    settings = HubSettings(home=tmp_path / "data", key_file=tmp_path / "keys" / "keyring.json", database_url=pg_url)
    hub, _ = init_hub(settings)
    try:
        record_member_access(hub.engine, Actor("operator", "operator"), "open", None, purpose="test")
        statements = ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log")
        assert_append_only(hub.engine, statements=statements)
    finally:
        hub.close()


def assert_append_only(engine, *, statements: tuple[str, ...]) -> None:
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT actor FROM audit_log")).scalars().all()
    assert rows == ["operator"]
