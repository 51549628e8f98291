"""The supervisor's API end to end over a real store: points adjustments, coupons, review queue, merges."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from core.access import Role
from core.loyalty.coupons import CouponIssuer
from core.records import Profile
from hub.web.api.supervision import ErrorBody
from tests.hub.web.conftest import WebHub

SUPERVISOR_SCOPES = ["members:read", "loyalty:write", "identity:write"]
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def bearer(web: WebHub, role: Role, scopes: list[str]) -> dict[str, str]:
    return {"authorization": f"Bearer {web.token(role, scopes, name=f'{role}-{len(scopes)}')}"}


@pytest.fixture
def supervisor(web: WebHub) -> dict[str, str]:
    return bearer(web, Role.SUPERVISOR, SUPERVISOR_SCOPES)


def adjust(web: WebHub, headers: dict[str, str], member: str, points: int, **extra: object):
    body = {"points": points, "reason": "お詫び（配送遅延）", **extra}
    return web.client().post(f"/api/v1/members/{member}/points/adjustments", json=body, headers=headers)


def available_points(web: WebHub, headers: dict[str, str], member: str) -> int:
    opened = web.client().get(f"/api/v1/members/{member}", headers=headers)
    assert opened.status_code == 200, opened.text
    return int(opened.json()["points"]["available"])


def queue_phone_pair(web: WebHub) -> None:
    """Two source profiles sharing a phone under different names: identity resolution queues them for review."""
    moment = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    first = Profile(source="shop", external_id="g1", source_updated_at=moment, name="鈴木 一郎", phone="06-1111-2222")
    second = Profile(source="shop", external_id="g2", source_updated_at=moment, name="田中 次郎", phone="06-1111-2222")
    for record in (first, second):
        with web.hub.engine.begin() as conn:
            web.hub.sink.apply(conn, [record])


def open_items(web: WebHub, headers: dict[str, str]) -> list[dict[str, object]]:
    listed = web.client().get("/api/v1/review-items", headers=headers)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, object]] = listed.json()["items"]
    return items


# ── points adjustments ──────────────────────────────────────────────────────────────────────────────


def test_a_credit_raises_the_balance_and_shows_in_the_timeline(web, supervisor):
    member = web.members["hanako"]

    done = adjust(web, supervisor, member, 500)

    assert done.status_code == 201, done.text
    assert done.json()["balance"]["available"] == 500 and done.json()["replayed"] is False
    assert available_points(web, supervisor, member) == 500
    timeline = web.client().get(f"/api/v1/members/{member}/timeline?kind=points", headers=supervisor).json()
    assert [(e["points"], e["note"]) for e in timeline["entries"]] == [(500, "お詫び（配送遅延）")]


def test_a_debit_beyond_the_balance_is_refused_with_422_and_moves_nothing(web, supervisor):
    member = web.members["hanako"]
    adjust(web, supervisor, member, 100)

    refused = adjust(web, supervisor, member, -500)

    assert refused.status_code == 422, refused.text
    assert ErrorBody.model_validate(refused.json()).error.code == "invalid_input"
    assert "balance is 100 points" in refused.json()["error"]["message"]
    assert available_points(web, supervisor, member) == 100


def test_a_debit_within_the_balance_lowers_it(web, supervisor):
    member = web.members["hanako"]
    adjust(web, supervisor, member, 300)

    done = adjust(web, supervisor, member, -120)

    assert done.status_code == 201, done.text
    assert (done.json()["points"], done.json()["balance"]["available"]) == (-120, 180)


def test_the_same_idempotency_key_moves_points_once(web, supervisor):
    member = web.members["taro"]

    first = adjust(web, supervisor, member, 200, idempotency_key="ticket-42")
    again = adjust(web, supervisor, member, 200, idempotency_key="ticket-42")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["replayed"] is True
    assert available_points(web, supervisor, member) == 200


@pytest.mark.parametrize(
    "body",
    [
        {"points": 0, "reason": "x"},
        {"points": 1_000_001, "reason": "x"},
        {"points": 10, "reason": "   "},
        {"points": 10, "reason": "x" * 256},
        {"points": "10", "reason": "x"},
        {"points": 10},
        {"points": 10, "reason": "x", "member": "other"},
    ],
)
def test_an_invalid_adjustment_is_refused_before_anything_moves(web, supervisor, body):
    member = web.members["hanako"]

    refused = web.client().post(f"/api/v1/members/{member}/points/adjustments", json=body, headers=supervisor)

    assert refused.status_code == 422, refused.text
    assert ErrorBody.model_validate(refused.json()).error.code == "invalid_request"
    assert available_points(web, supervisor, member) == 0


def test_adjusting_an_unknown_member_is_404(web, supervisor):
    assert adjust(web, supervisor, UNKNOWN, 10).status_code == 404


# ── coupons ─────────────────────────────────────────────────────────────────────────────────────────


def test_an_operator_lists_the_coupons_of_a_member(web):
    member = web.members["hanako"]
    template = web.hub.loyalty.rules.coupon_template("apology-500")
    assert template is not None
    with web.hub.engine.begin() as conn:
        [issued] = CouponIssuer(conn, datetime.now(UTC)).issue([(UUID(member), template, "t:1")])

    listed = web.client().get(f"/api/v1/members/{member}/coupons", headers=bearer(web, Role.OPERATOR, ["members:read"]))

    assert listed.status_code == 200, listed.text
    [coupon] = listed.json()["coupons"]
    assert (coupon["code"], coupon["kind"], coupon["value"]) == (issued.code, "apology", 500)
    assert (coupon["uses"], coupon["max_uses"], coupon["status"]) == (0, 1, "available")


def test_the_coupons_of_an_unknown_member_are_404_not_an_empty_list(web, supervisor):
    assert web.client().get(f"/api/v1/members/{UNKNOWN}/coupons", headers=supervisor).status_code == 404


# ── who may ─────────────────────────────────────────────────────────────────────────────────────────


SUPERVISOR_ROUTES = [
    ("post", "/api/v1/members/{hanako}/points/adjustments", {"points": 10, "reason": "x"}),
    ("get", "/api/v1/review-items", None),
    ("post", "/api/v1/review-items/1/accept", {"note": "x"}),
    ("post", "/api/v1/review-items/1/reject", {"note": "x"}),
    ("post", "/api/v1/merges", {"survivor_id": "{hanako}", "merged_id": "{taro}", "reason": "x"}),
    ("post", "/api/v1/members/{taro}/unmerge", {"reason": "x"}),
    ("get", "/api/v1/members/{taro}/merges", None),
]


def _filled(web: WebHub, value: object) -> object:
    if isinstance(value, str):
        return value.format(**web.members)
    if isinstance(value, dict):
        return {key: _filled(web, item) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), SUPERVISOR_ROUTES)
def test_an_operator_is_forbidden_every_supervisor_route(web, method, path, body):
    headers = bearer(web, Role.OPERATOR, ["members:read", "inquiries:write"])

    answer = web.client().request(method, str(_filled(web, path)), json=_filled(web, body), headers=headers)

    assert answer.status_code == 403, answer.text
    assert ErrorBody.model_validate(answer.json()).error.code == "forbidden"


@pytest.mark.parametrize(("method", "path", "body"), SUPERVISOR_ROUTES)
def test_a_supervisor_token_without_the_scope_is_forbidden(web, method, path, body):
    headers = bearer(web, Role.SUPERVISOR, ["members:read"])

    answer = web.client().request(method, str(_filled(web, path)), json=_filled(web, body), headers=headers)

    assert answer.status_code == 403, answer.text


def test_a_request_without_credentials_is_401(web):
    assert web.client().get("/api/v1/review-items").status_code == 401


# ── review queue ────────────────────────────────────────────────────────────────────────────────────


def test_accepting_a_review_item_merges_the_pair(web, supervisor):
    queue_phone_pair(web)
    [item] = open_items(web, supervisor)
    assert (item["kind"], item["evidence"]) == ("phone_name_differs", "same phone number, different name")

    accepted = web.client().post(
        f"/api/v1/review-items/{item['id']}/accept", json={"note": "本人確認済み"}, headers=supervisor
    )

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert open_items(web, supervisor) == []
    history = web.client().get(f"/api/v1/members/{item['member_id']}/merges", headers=supervisor).json()["merges"]
    assert [(m["id"], m["kind"], m["survivor_id"]) for m in history] == [
        (accepted.json()["merge_id"], "review", item["candidate_id"])
    ]


def test_a_rejected_item_leaves_the_queue_and_merges_nothing(web, supervisor):
    queue_phone_pair(web)
    [item] = open_items(web, supervisor)

    rejected = web.client().post(f"/api/v1/review-items/{item['id']}/reject", json={"note": "別人"}, headers=supervisor)

    assert rejected.status_code == 200, rejected.text
    decided = web.client().get("/api/v1/review-items?status=rejected", headers=supervisor).json()["items"]
    assert [(d["id"], d["decided_by"], d["decision_note"]) for d in decided] == [
        (item["id"], "token:supervisor-3", "別人")
    ]
    assert web.client().get(f"/api/v1/members/{item['member_id']}/merges", headers=supervisor).json()["merges"] == []


def test_deciding_an_item_twice_is_a_422(web, supervisor):
    queue_phone_pair(web)
    [item] = open_items(web, supervisor)
    web.client().post(f"/api/v1/review-items/{item['id']}/reject", json={"note": "別人"}, headers=supervisor)

    again = web.client().post(
        f"/api/v1/review-items/{item['id']}/accept", json={"note": "やはり同一"}, headers=supervisor
    )

    assert again.status_code == 422, again.text
    assert "already rejected" in again.json()["error"]["message"]


def test_the_queue_is_paged_by_after_id(web, supervisor):
    queue_phone_pair(web)

    page = web.client().get("/api/v1/review-items?limit=1", headers=supervisor).json()
    after = web.client().get(f"/api/v1/review-items?limit=1&after_id={page['next_after_id']}", headers=supervisor)

    assert len(page["items"]) == 1 and page["next_after_id"] == page["items"][0]["id"]
    assert after.json() == {"items": [], "next_after_id": None}


# ── merges ──────────────────────────────────────────────────────────────────────────────────────────


def test_a_merge_is_listed_and_undone_by_an_unmerge(web, supervisor):
    hanako, taro = web.members["hanako"], web.members["taro"]
    body = {"survivor_id": hanako, "merged_id": taro, "reason": "同一人物（電話で確認）"}

    merged = web.client().post("/api/v1/merges", json=body, headers=supervisor)
    undone = web.client().post(f"/api/v1/members/{taro}/unmerge", json={"reason": "別人と判明"}, headers=supervisor)

    assert merged.status_code == 201, merged.text
    assert undone.status_code == 200, undone.text
    assert undone.json()["merge_id"] == merged.json()["merge_id"]
    [entry] = web.client().get(f"/api/v1/members/{hanako}/merges", headers=supervisor).json()["merges"]
    assert (entry["merged_id"], entry["kind"], entry["actor"]) == (taro, "manual", "token:supervisor-3")
    assert entry["undone_at"] is not None


def test_a_merge_moves_the_points_to_the_survivor(web, supervisor):
    hanako, taro = web.members["hanako"], web.members["taro"]
    adjust(web, supervisor, taro, 300)

    web.client().post(
        "/api/v1/merges", json={"survivor_id": hanako, "merged_id": taro, "reason": "同一人物"}, headers=supervisor
    )

    assert available_points(web, supervisor, hanako) == 300


def test_unmerging_a_member_that_is_not_merged_is_a_422(web, supervisor):
    answer = web.client().post(
        f"/api/v1/members/{web.members['taro']}/unmerge", json={"reason": "x"}, headers=supervisor
    )

    assert answer.status_code == 422, answer.text


def test_merging_an_unknown_member_is_404(web, supervisor):
    body = {"survivor_id": web.members["hanako"], "merged_id": UNKNOWN, "reason": "x"}

    assert web.client().post("/api/v1/merges", json=body, headers=supervisor).status_code == 404


# ── the contract ────────────────────────────────────────────────────────────────────────────────────


def test_every_supervision_route_documents_its_errors_as_the_hub_writes_them(web):
    spec = web.client().get("/api/v1/openapi.json").json()
    operations = [op for ops in spec["paths"].values() for op in ops.values() if "supervision" in op["tags"]]

    assert len(operations) == 8
    for operation in operations:
        for status in ("401", "403", "422"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (operation["operationId"], status)
