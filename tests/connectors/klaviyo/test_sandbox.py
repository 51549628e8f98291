"""The emulator behaves like Klaviyo where the connector depends on it, seen over plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.klaviyo.sandbox import RateLimit, SandboxServer
from connectors.town import person

REVISION = "2025-01-15"


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A plain client sending the sandbox's key and a revision."""
    headers = {"Authorization": f"Klaviyo-API-Key {sandbox.api_key}", "revision": REVISION,
               "Accept": "application/vnd.api+json"}  # fmt: skip
    with httpx.Client(base_url=sandbox.url, headers=headers, timeout=5) as client:
        yield client


def error_of(response: httpx.Response) -> dict[str, Any]:
    [error] = response.json()["errors"]
    assert {"id", "status", "code", "title", "detail", "source"} <= set(error)
    return dict(error)


def test_a_request_without_revision_is_refused_with_400(sandbox: SandboxServer, api: httpx.Client) -> None:
    response = httpx.get(
        f"{sandbox.url}/api/profiles/", headers={"Authorization": f"Klaviyo-API-Key {sandbox.api_key}"}
    )
    assert response.status_code == 400
    assert error_of(response)["source"] == {"header": "revision"}


def test_a_wrong_key_is_refused_with_401(api: httpx.Client) -> None:
    response = api.get("/api/profiles/", headers={"Authorization": "Klaviyo-API-Key pk_wrong"})
    assert (response.status_code, error_of(response)["code"]) == (401, "not_authenticated")


def test_profiles_are_the_town_people_in_kanji(sandbox: SandboxServer, api: httpx.Client) -> None:
    rows = sorted(sandbox.state.profile_rows(), key=lambda row: row["attributes"]["created"])
    first = person(sandbox.state.seed, 1)
    assert (rows[0]["attributes"]["last_name"], rows[0]["attributes"]["first_name"]) == (
        first.last_name,
        first.first_name,
    )
    assert rows[0]["attributes"]["email"] == first.email


def test_links_next_pages_through_every_profile_once(sandbox: SandboxServer, api: httpx.Client) -> None:
    seen: list[str] = []
    url: str | None = "/api/profiles/?sort=updated&page[size]=20"
    while url:
        page = api.get(url).json()
        seen += [profile["id"] for profile in page["data"]]
        assert all("subscriptions" not in profile["attributes"] for profile in page["data"])
        url = page["links"]["next"]
        assert url is None or "page%5Bcursor%5D=" in url
    assert sorted(seen) == sorted(sandbox.record_ids("profiles"))


def test_subscriptions_come_only_when_asked_for(api: httpx.Client) -> None:
    page = api.get("/api/profiles/", params={"additional-fields[profile]": "subscriptions", "page[size]": 1}).json()
    assert page["data"][0]["attributes"]["subscriptions"]["email"]["marketing"]["consent"]


def test_an_unsupported_filter_operator_is_refused(api: httpx.Client) -> None:
    response = api.get("/api/profiles/", params={"filter": "greater-or-equal(updated,2026-04-01T00:00:00Z)"})
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "filter"}


def test_creating_a_profile_with_a_taken_email_is_a_409_naming_the_duplicate(
    sandbox: SandboxServer, api: httpx.Client
) -> None:
    existing = next(row for row in sandbox.state.profile_rows() if row["attributes"]["email"])
    document = {"data": {"type": "profile", "attributes": {"email": existing["attributes"]["email"]}}}
    response = api.post("/api/profiles/", json=document)
    error = error_of(response)
    assert (response.status_code, error["code"]) == (409, "duplicate_profile")
    assert error["meta"]["duplicate_profile_id"] == existing["id"]


def test_an_event_is_accepted_with_202_and_once_per_unique_id(sandbox: SandboxServer, api: httpx.Client) -> None:
    profile_id = sandbox.state.profile_rows()[0]["id"]
    attributes = {"metric": {"data": {"type": "metric", "attributes": {"name": "MemberHub Coupon Issued"}}},
                  "profile": {"data": {"type": "profile", "id": profile_id}}, "properties": {"coupon_code": "A1"},
                  "unique_id": "coupon:1:email", "time": "2026-11-30T01:00:00+00:00"}  # fmt: skip
    answers = [api.post("/api/events/", json={"data": {"type": "event", "attributes": attributes}}) for _ in range(2)]
    assert [(answer.status_code, answer.content) for answer in answers] == [(202, b""), (202, b"")]
    assert len(sandbox.state.events_named("MemberHub Coupon Issued")) == 1


def test_an_event_dated_before_2000_is_refused(sandbox: SandboxServer, api: httpx.Client) -> None:
    attributes = {"metric": {"data": {"type": "metric", "attributes": {"name": "X"}}},
                  "profile": {"data": {"type": "profile", "id": sandbox.state.profile_rows()[0]["id"]}},
                  "properties": {}, "time": "1999-12-31T00:00:00+00:00"}  # fmt: skip
    assert api.post("/api/events/", json={"data": {"type": "event", "attributes": attributes}}).status_code == 400


def test_the_burst_window_answers_429_with_retry_after() -> None:
    now = [100.0]
    with SandboxServer(rate_limit=RateLimit(burst=2, steady=100), clock=lambda: now[0]) as server:
        headers = {"Authorization": f"Klaviyo-API-Key {server.api_key}", "revision": REVISION}
        statuses = [httpx.get(f"{server.url}/api/metrics/", headers=headers) for _ in range(3)]
        assert [response.status_code for response in statuses] == [200, 200, 429]
        assert statuses[2].headers["Retry-After"] == "1"
        assert statuses[0].headers["RateLimit-Limit"] == "100"
        now[0] += 1.0
        assert httpx.get(f"{server.url}/api/metrics/", headers=headers).status_code == 200


def test_the_steady_window_answers_429_until_the_minute_is_over() -> None:
    now = [100.0]
    with SandboxServer(rate_limit=RateLimit(burst=100, steady=2), clock=lambda: now[0]) as server:
        headers = {"Authorization": f"Klaviyo-API-Key {server.api_key}", "revision": REVISION}
        for _ in range(2):
            httpx.get(f"{server.url}/api/metrics/", headers=headers)
        now[0] += 20.0
        throttled = httpx.get(f"{server.url}/api/metrics/", headers=headers)
        assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "40")


def test_list_relationships_add_and_remove_profiles(sandbox: SandboxServer, api: httpx.Client) -> None:
    sandbox.state.add_list("VipLst", "VIP")
    profile_id = sandbox.state.profile_rows()[0]["id"]
    body = {"data": [{"type": "profile", "id": profile_id}]}
    assert api.post("/api/lists/VipLst/relationships/profiles/", json=body).status_code == 204
    assert api.get("/api/lists/VipLst/relationships/profiles/").json()["data"] == [
        {"type": "profile", "id": profile_id}
    ]
    assert api.request("DELETE", "/api/lists/VipLst/relationships/profiles/", json=body).status_code == 204
    assert api.get("/api/lists/NoSuch/profiles/").status_code == 404
