"""The emulator behaves as Zendesk does where the connector depends on it (api-reference §7, item 4)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors import town
from connectors.loopback import LoopbackServer
from connectors.zendesk.sandbox import USER_ID_BASE, RateLimit, SandboxServer
from connectors.zendesk.sandbox.topics import TOPICS
from core.errors import PermanentError, RetryableError
from core.sync.conformance import read_all
from core.sync.conformance_batches import records_of
from core.sync.cursor import StreamCursor
from core.sync.retry import RetryPolicy
from tests.connectors.zendesk.factories import small_sandbox, zendesk_connector

EXPORT_USERS = "/api/v2/incremental/users/cursor.json"


class FakeTime:
    """One clock for the sandbox and the connector: ``sleep`` advances it, instantly."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def wall() -> FakeTime:
    return FakeTime(1_795_000_000.0)  # late 2026


@pytest.fixture
def delayed(wall: FakeTime) -> Iterator[SandboxServer]:
    """A sandbox holding back rows changed in the last minute, on the injected wall clock."""
    with small_sandbox(export_delay_s=60.0, wall_clock=wall) as server:
        yield server


def test_end_users_are_townspeople_as_an_agent_typed_them(sandbox: SandboxServer) -> None:
    for user_id in sandbox.record_ids("users"):
        user = sandbox.state.record("users", user_id)
        someone = town.person(sandbox.state.seed, int(user_id) - USER_ID_BASE)
        typed = user["name"].replace(" ", "")
        assert typed in (someone.full_name, f"{someone.last_kana}{someone.first_kana}")
        assert user["email"] in (None, someone.email)
        if someone.mobile is not None and user["phone"] is not None:
            assert re.sub(r"\D", "", user["phone"]).removeprefix("81").lstrip("0") == someone.mobile.lstrip("0")


def test_tickets_are_japanese_threads_between_the_requester_and_agents(sandbox: SandboxServer) -> None:
    subjects = {topic.subject for topic in TOPICS}
    conversations = 0
    for ticket_id in sandbox.record_ids("tickets"):
        ticket = sandbox.state.record("tickets", ticket_id)
        assert ticket["subject"] in subjects and str(ticket["requester_id"]) in sandbox.record_ids("users")
        authors = {comment["author_id"] for comment in sandbox.state.thread(int(ticket_id))}
        conversations += ticket["requester_id"] in authors and len(authors) > 1
    assert conversations >= 5


def test_rows_changed_within_the_export_delay_are_held_back_until_it_passed(
    delayed: SandboxServer, wall: FakeTime
) -> None:
    connector = zendesk_connector(delayed)
    done = read_all(connector, "users")
    assert {r.external_id for r in records_of(done)} == delayed.record_ids("users")
    user_id = min(delayed.record_ids("users"))
    with httpx.Client(base_url=delayed.url, auth=(f"{delayed.email}/token", delayed.token)) as api:
        api.post("/api/v2/users/create_or_update.json", json={"user": {"email": "new@example.jp", "name": "新規"}})
        api.put("/api/v2/users/update_many.json", json={"users": [{"id": int(user_id), "phone": "03-1111-2222"}]})
    wall.now += 59
    assert records_of(read_all(connector, "users", done[-1].cursor)) == []
    wall.now += 2
    changed = records_of(read_all(connector, "users", done[-1].cursor))
    assert len(changed) == 2 and user_id in {r.external_id for r in changed}
    connector.close()


def test_the_export_budget_answers_429_with_retry_after_which_the_client_waits_out() -> None:
    time = FakeTime(1_000.0)
    with small_sandbox(export_rate=RateLimit(2, 60.0), clock=time) as server:
        patient = RetryPolicy(max_attempts=3, base_delay=0.01, max_total=120)
        connector = zendesk_connector(server, retry=patient, sleep=time.sleep)
        records = records_of(read_all(connector, "users"))
        assert {r.external_id for r in records} == server.record_ids("users")
        assert server.state.request_count(EXPORT_USERS, status=429) == 1
        assert time.sleeps == [60.0] and connector.stats.retries == 1
        connector.close()


def test_the_export_says_end_of_stream_and_continues_after_its_cursor(api: httpx.Client) -> None:
    first = api.get(EXPORT_USERS, params={"start_time": 0, "per_page": 10}).json()
    assert first["end_of_stream"] is False and len(first["users"]) == 10
    assert base64.b64decode(first["after_cursor"]).decode().endswith(f"||{first['users'][-1]['id']}|")
    assert f"cursor={first['after_cursor']}" in httpx.URL(first["after_url"]).query.decode()
    rest = api.get(EXPORT_USERS, params={"cursor": first["after_cursor"], "per_page": 1000}).json()
    assert rest["end_of_stream"] is True
    assert not {u["id"] for u in first["users"]} & {u["id"] for u in rest["users"]}


def test_an_export_refuses_a_start_time_inside_the_delay_and_a_foreign_cursor(
    delayed: SandboxServer, wall: FakeTime
) -> None:
    with httpx.Client(base_url=delayed.url, auth=(f"{delayed.email}/token", delayed.token)) as api:
        recent = api.get(EXPORT_USERS, params={"start_time": int(wall.now) - 30})
        foreign = api.get(EXPORT_USERS, params={"cursor": "bm90IG91cnM="})
    assert (recent.status_code, foreign.status_code) == (400, 400)
    assert "Too recent start_time" in recent.json()["description"]


def test_deleted_tickets_are_exported_unless_excluded(api: httpx.Client, sandbox: SandboxServer) -> None:
    path = "/api/v2/incremental/tickets/cursor.json"
    every = api.get(path, params={"start_time": 0}).json()["tickets"]
    kept = api.get(path, params={"start_time": 0, "exclude_deleted": "true"}).json()["tickets"]
    assert {t["status"] for t in every} >= {"deleted"}
    assert {str(t["id"]) for t in kept} == sandbox.record_ids("tickets")


def test_a_comment_thread_is_paged_by_cursor_with_its_authors(api: httpx.Client, sandbox: SandboxServer) -> None:
    ticket_id = max(sandbox.record_ids("tickets"), key=lambda t: len(sandbox.state.thread(int(t))))
    path = f"/api/v2/tickets/{ticket_id}/comments.json"
    page = api.get(path, params={"page[size]": 1, "include": "users"}).json()
    assert page["meta"]["has_more"] is True and page["links"]["next"]
    assert {u["id"] for u in page["users"]} == {page["comments"][0]["author_id"]}
    second = api.get(path, params={"page[size]": 1, "page[after]": page["meta"]["after_cursor"]}).json()
    assert second["comments"][0]["id"] != page["comments"][0]["id"]


def test_a_ticket_without_a_comment_is_a_record_invalid(api: httpx.Client) -> None:
    answer = api.post("/api/v2/tickets.json", json={"ticket": {"subject": "件名のみ"}})
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "RecordInvalid", "description": "Record validation errors",
        "details": {"description": [{"description": "Description: cannot be blank", "error": "BlankValue"}]},
    }  # fmt: skip


def test_an_idempotency_key_misses_then_hits_and_refuses_another_body(
    api: httpx.Client, sandbox: SandboxServer
) -> None:
    ticket = {"ticket": {"subject": "配送遅延", "comment": {"body": "まだ届きません"}}}
    first = api.post("/api/v2/tickets.json", json=ticket, headers={"Idempotency-Key": "k-1"})
    again = api.post("/api/v2/tickets.json", json=ticket, headers={"Idempotency-Key": "k-1"})
    other = api.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "別件"}}},
                     headers={"Idempotency-Key": "k-1"})  # fmt: skip
    assert (first.status_code, first.headers["x-idempotency-lookup"]) == (201, "miss")
    assert (again.status_code, again.headers["x-idempotency-lookup"]) == (201, "hit")
    assert again.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    assert other.status_code == 400 and sandbox.state.writes == ["k-1"]


def test_credentials_are_checked_basic_token_or_oauth_bearer(sandbox: SandboxServer) -> None:
    me = "/api/v2/users/me.json"
    with httpx.Client(base_url=sandbox.url) as plain:
        assert plain.get(me, auth=(f"{sandbox.email}/token", "wrong")).status_code == 401
        assert plain.get(me, headers={"Authorization": f"Bearer {sandbox.state.oauth_token}"}).status_code == 200
    oauth = zendesk_connector(sandbox, auth="oauth", email=None)
    oauth.close()
    bearer = type(oauth)(oauth.instance, oauth.config, token=sandbox.state.oauth_token)
    assert bearer.check().ok
    bearer.close()


def test_update_many_takes_at_most_a_hundred_users_and_answers_with_a_job(api: httpx.Client) -> None:
    too_many = api.put("/api/v2/users/update_many.json", json={"users": [{"id": n} for n in range(101)]})
    assert too_many.status_code == 400
    job = api.put("/api/v2/users/update_many.json", json={"users": [{"id": 1}]}).json()["job_status"]
    assert job["status"] == "queued"
    done = api.get(f"/api/v2/job_statuses/{job['id']}.json").json()["job_status"]
    assert done["status"] == "completed" and done["results"][0]["error"] == "UserNotFound"


def test_a_hanging_request_times_out_as_retryable(sandbox: SandboxServer) -> None:
    connector = zendesk_connector(sandbox, timeout_s=0.3)
    sandbox.state.hang_next(1, seconds=5.0)
    with pytest.raises(RetryableError, match="timeout"):
        read_all(connector, "users")
    connector.close()


def test_a_maintenance_page_instead_of_json_is_permanent(sandbox: SandboxServer) -> None:
    connector = zendesk_connector(sandbox)
    sandbox.state.serve_non_json(1)
    with pytest.raises(PermanentError, match="not JSON"):
        read_all(connector, "tickets")
    connector.close()


def test_changes_are_sent_as_signed_events_to_the_subscribed_url(sandbox: SandboxServer) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def receiver(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    connector = zendesk_connector(sandbox)
    with LoopbackServer(Starlette(routes=[Route("/hooks/zendesk", receiver, methods=["POST"])])) as hub:
        sender = sandbox.state.subscribe(f"{hub.url}/hooks/zendesk")
        with httpx.Client(base_url=sandbox.url, auth=(f"{sandbox.email}/token", sandbox.token)) as api:
            made = api.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "折り返し希望"}}}).json()
        sender.flush()
    [(headers, body)] = received
    assert connector.verify_webhook(headers, body)
    [inquiry] = connector.parse_webhook(headers, body)
    assert inquiry.external_id == str(made["ticket"]["id"]) and sender.sent == [200]
    connector.close()


def test_the_final_cursor_is_zendesks_after_cursor_with_the_newest_change_read(sandbox: SandboxServer) -> None:
    connector = zendesk_connector(sandbox)
    batches = read_all(connector, "tickets")
    final = StreamCursor.from_json(batches[-1].cursor)
    newest = max(r.source_updated_at for r in records_of(batches))
    assert final.updated_since == newest and final.page is not None
    assert base64.b64decode(final.page).decode().startswith(f"{int(newest.timestamp())}.0||")
    connector.close()


def test_the_same_seed_gives_the_same_account_and_another_seed_another() -> None:
    def snapshot(server: SandboxServer) -> list[object]:
        users = [server.state.record("users", u) for u in sorted(server.record_ids("users"))]
        tickets = [server.state.record("tickets", t) for t in sorted(server.record_ids("tickets"))]
        return [users, tickets, [server.state.thread(int(t["id"])) for t in tickets]]

    with SandboxServer(users=6, tickets=8, seed=7) as one, SandboxServer(users=6, tickets=8, seed=7) as same:
        assert snapshot(one) == snapshot(same)
        with SandboxServer(users=6, tickets=8, seed=8) as other:
            assert snapshot(other)[0] != snapshot(one)[0]
