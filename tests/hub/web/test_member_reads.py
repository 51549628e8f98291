"""What an operator's lookup costs the server, and what it must still guarantee.

An opening or a timeline page reads and audits in one transaction on one pooled connection, and the audit row
is committed before the answer starts; a read that fails leaves no audit row. Answers are JSON written in one
pass, the same JSON ``jsonable_encoder`` gives.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from fastapi.encoders import jsonable_encoder
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from core.members.profile import Member, MemberProfile
from core.members.timeline import InquiryEntry, InquiryMessageEntry, PointsEntry, TimelinePage
from hub.web.api.members import json_response
from tests.hub.web.conftest import WebHub

REQUEST_ID = "lookup-under-test-1"


@contextmanager
def pool_checkouts(engine: Engine) -> Iterator[list[object]]:
    """The connections taken from ``engine``'s pool within the block."""
    taken: list[object] = []

    def note(dbapi_connection: object, _record: object, _proxy: object) -> None:
        taken.append(dbapi_connection)

    event.listen(engine, "checkout", note)
    try:
        yield taken
    finally:
        event.remove(engine, "checkout", note)


def audited_actions(web: WebHub, request_id: str) -> list[str]:
    with web.hub.engine.connect() as conn:  # another connection: it sees committed rows only
        query = text("SELECT action FROM audit_log WHERE request_id = :id ORDER BY id")
        return list(conn.execute(query, {"id": request_id}).scalars())


def operator_api(web: WebHub) -> TestClient:
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('operator', ['members:read'], name='crm')}"
    assert client.get("/readyz").status_code == 200
    return client


def test_an_opening_and_a_timeline_page_take_one_connection_each(web: WebHub):
    client = operator_api(web)
    member = f"/api/v1/members/{web.members['hanako']}"
    assert client.get(member).status_code == 200  # verifies the token, which this process then remembers
    for path in (member, f"{member}/timeline"):
        with pool_checkouts(web.hub.engine) as taken:
            assert client.get(path).status_code == 200
        assert len(taken) == 1, path


def test_the_audit_row_of_an_opening_is_committed_before_the_answer_starts(web: WebHub):
    audited_at_answer: dict[str, list[str]] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_after_checking(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                audited_at_answer[scope["path"]] = audited_actions(web, f"{REQUEST_ID}-{scope['path'][-8:]}")
            await send(message)

        await web.app(scope, receive, send_after_checking)

    client = TestClient(app, base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {web.token('operator', ['members:read'], name='crm')}"
    member = f"/api/v1/members/{web.members['taro']}"
    for path, action in ((member, "open"), (f"{member}/timeline", "timeline")):
        response = client.get(path, headers={"X-Request-ID": f"{REQUEST_ID}-{path[-8:]}"})
        assert response.status_code == 200
        assert audited_at_answer[path] == [action]


def test_an_opening_that_fails_leaves_no_audit_row(web: WebHub):
    client = operator_api(web)
    unknown = f"/api/v1/members/{uuid4()}"
    for path in (unknown, f"{unknown}/timeline"):
        assert client.get(path, headers={"X-Request-ID": REQUEST_ID}).status_code == 404
    assert audited_actions(web, REQUEST_ID) == []


def test_answers_are_the_json_jsonable_encoder_gives():
    at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    member = Member(
        uuid4(), "active", "1234-5678-9012", MemberProfile("山田 花子", birthday=date(1990, 2, 3)), None, at
    )
    message = InquiryMessageEntry(7, "member", "配送について", at)
    entries = (
        InquiryEntry(at, "inquiry", 3, member.id, "shop", "phone", "open", None, "件名", None, "T-1", (message,)),
        PointsEntry(at, "points", 4, member.id, None, None, "earn", 120, "available", "v1", "purchase:9", at, None),
    )
    values: list[Any] = [member, TimelinePage(entries, "next"), {"spend": Decimal("12345"), "rate": Decimal("0.5")}]
    for value in values:
        expected = jsonable_encoder(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value)
        assert json.loads(json_response(value).body) == expected
