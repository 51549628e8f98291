"""Every answer forbids framing, sniffing and caching of member data, and carries a request id to quote."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.hub.web.captured_logs import captured_logs
from tests.hub.web.conftest import WebHub, csrf_of


def assert_protected(response) -> None:
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] in ("same-origin", "no-referrer")  # member URLs never leave the site
    assert headers["x-request-id"]


def assert_not_cached(response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_the_member_page_and_search_results_are_neither_framed_nor_cached(web: WebHub):
    client = web.signed_in("operator")
    page = client.get(f"/members/{web.members['hanako']}")
    search = client.post("/search", data={"query": "090-1234-5678", "csrf_token": csrf_of(client)})
    assert (page.status_code, search.status_code) == (200, 200)
    assert "hanako@example.jp" in page.text and "090-****-5678" in search.text
    for response in (page, search):
        assert_protected(response)
        assert_not_cached(response)


def test_api_answers_are_neither_framed_nor_cached(web: WebHub):
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('operator', ['members:read'])}"
    member = client.get(f"/api/v1/members/{web.members['hanako']}")
    search = client.post("/api/v1/members/search", json={"query": "hanako@example.jp"})
    assert (member.status_code, search.status_code) == (200, 200)
    for response in (member, search):
        assert_protected(response)
        assert_not_cached(response)


def test_error_answers_carry_the_same_headers(web: WebHub):
    client = web.client()
    member = web.members["hanako"]
    bearer = {"Authorization": f"Bearer {web.token('operator', ['members:read'])}"}
    answers = {
        401: client.get(f"/api/v1/members/{member}"),
        303: client.get(f"/members/{member}"),
        403: web.signed_in("operator").post("/search", data={"query": "x"}),
        404: client.get("/no-such-page"),
        405: client.get("/logout"),
        422: client.get("/api/v1/members/not-a-uuid", headers=bearer),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert_protected(response)
        assert_not_cached(response)


@pytest.mark.parametrize("path", ["/api/v1/test-failure", "/test-failure"], ids=["api", "console"])
def test_an_unexpected_failure_answers_500_with_the_headers_and_nothing_of_the_error(web: WebHub, path: str):
    def failing() -> None:
        raise RuntimeError("decrypting hanako@example.jp failed")

    web.app.add_api_route(path, failing)
    client = TestClient(web.app, base_url="https://testserver", raise_server_exceptions=False)
    with captured_logs("INFO") as log:
        response = client.get(path, headers={"X-Request-ID": "support-ticket-42"})
    assert response.status_code == 500
    assert_protected(response)
    assert_not_cached(response)
    assert response.headers["x-request-id"] == "support-ticket-42"
    assert "support-ticket-42" in response.text  # the id to quote to an administrator
    for leak in ("hanako", "RuntimeError", "Traceback", "decrypting", "failing", ".py"):
        assert leak not in response.text
    logged = log.getvalue()
    assert "request_failed" in logged and "support-ticket-42" in logged  # the administrator finds the failure
    assert "hanako@example.jp" not in logged  # but not the member


def test_static_files_are_cacheable_but_still_protected(web: WebHub):
    response = web.client().get("/static/console.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert "pragma" not in response.headers
    assert_protected(response)


def test_a_well_formed_request_id_is_echoed(web: WebHub):
    response = web.client().get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21.req_01"})
    assert response.headers["x-request-id"] == "lb-7f3a9c21.req_01"


def test_a_malformed_request_id_is_replaced_by_a_fresh_one(web: WebHub):
    client = web.client()
    for given in ["short", "x" * 65, "has spaces in it", 'inject"},{"level":"critical', "日本語のリクエストID"]:
        echoed = client.get("/healthz", headers={"X-Request-ID": given.encode()}).headers["x-request-id"]
        assert echoed != given and len(echoed) == 32 and echoed.isalnum(), given


def test_every_request_gets_its_own_id(web: WebHub):
    client = web.client()
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
