"""The supervisor's console pages: review queue, points adjustment, merge history, merges and unmerges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from types import SimpleNamespace
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from core.access import Principal, Role
from core.identity.matching import ReviewKind
from core.identity.merge import MERGE_KINDS
from hub.web.i18n import translate
from hub.web.pages import templates
from tests.hub.web.conftest import csrf_of
from tests.hub.web.test_supervision_api import queue_phone_pair

WEB = Path(__file__).parents[3] / "hub" / "web"
OUR_TEMPLATES = ("review.html", "merges.html", "points_form.html")


def review_item_ids(client: TestClient) -> list[str]:
    return re.findall(r'<tr id="item-(\d+)">', client.get("/review").text)


def merge_rows(client: TestClient, member: str) -> list[str]:
    return re.findall(r'<tr id="merge-(\d+)">', client.get(f"/members/{member}/merges").text)


# ── review queue ────────────────────────────────────────────────────────────────────────────────────


def test_the_review_queue_renders_in_japanese_for_a_supervisor(web):
    queue_phone_pair(web)
    client = web.signed_in("supervisor")

    page = client.get("/review")

    assert page.status_code == 200, page.text
    assert '<html lang="ja">' in page.text
    assert "名寄せ確認" in page.text and "電話番号が同じで氏名が異なる" in page.text
    assert page.text.count('name="note" required') == 2


def test_accepting_an_item_in_the_console_merges_the_pair_and_returns_to_the_queue(web):
    queue_phone_pair(web)
    client = web.signed_in("supervisor")
    [item_id] = review_item_ids(client)

    done = client.post(
        f"/review/{item_id}/accept", data={"note": "本人確認済み", "csrf_token": csrf_of(client, "/review")}
    )

    assert (done.status_code, done.headers["location"]) == (303, "/review")
    assert review_item_ids(client) == []
    assert "確認待ちの候補はありません" in client.get("/review").text


def test_rejecting_an_item_in_the_console_closes_it(web):
    queue_phone_pair(web)
    client = web.signed_in("supervisor")
    [item_id] = review_item_ids(client)

    done = client.post(f"/review/{item_id}/reject", data={"note": "家族", "csrf_token": csrf_of(client, "/review")})

    assert done.status_code == 303
    assert review_item_ids(client) == []


def test_a_decision_needs_a_note(web):
    queue_phone_pair(web)
    client = web.signed_in("supervisor")
    [item_id] = review_item_ids(client)

    refused = client.post(f"/review/{item_id}/accept", data={"note": "", "csrf_token": csrf_of(client, "/review")})

    assert refused.status_code == 422
    assert review_item_ids(client) == [item_id]


# ── points ──────────────────────────────────────────────────────────────────────────────────────────


def test_a_points_adjustment_returns_to_the_member_summary_with_the_new_balance(web):
    member = web.members["hanako"]
    client = web.signed_in("supervisor")

    done = client.post(
        f"/members/{member}/points", data={"points": "250", "reason": "お詫び", "csrf_token": csrf_of(client)}
    )

    assert (done.status_code, done.headers["location"]) == (303, f"/members/{member}#summary")
    page = client.get(f"/members/{member}").text
    assert "+250" in page and "お詫び" in page


def test_a_debit_beyond_the_balance_shows_an_error_and_changes_nothing(web):
    member = web.members["hanako"]
    client = web.signed_in("supervisor")
    csrf = csrf_of(client)
    client.post(f"/members/{member}/points", data={"points": "100", "reason": "付与", "csrf_token": csrf})

    refused = client.post(f"/members/{member}/points", data={"points": "-500", "reason": "誤付与", "csrf_token": csrf})

    assert refused.status_code == 422
    assert "balance is 100 points" in refused.text
    assert "誤付与" not in client.get(f"/members/{member}").text


def test_the_points_form_partial_shows_only_to_supervisors():
    summary = SimpleNamespace(member=SimpleNamespace(id="m-1", profile=object()))
    form = templates.env.get_template("points_form.html")

    def rendered(role: Role) -> str:
        principal = Principal("someone", role, frozenset())
        return form.render(
            summary=summary, csrf_token="t0k3n", principal=principal, _=lambda k, **v: translate("ja", k)
        )

    assert 'action="/members/m-1/points"' in rendered(Role.SUPERVISOR) and 'value="t0k3n"' in rendered(Role.SUPERVISOR)
    assert "ポイント調整" in rendered(Role.ADMIN)
    assert rendered(Role.OPERATOR).strip() == ""


# ── merges ──────────────────────────────────────────────────────────────────────────────────────────


def test_merging_by_member_number_then_unmerging_from_the_history_page(web):
    hanako, taro = web.members["hanako"], web.members["taro"]
    taro_number = web.hub.members.get(UUID(taro)).member_number
    client = web.signed_in("supervisor")
    csrf = csrf_of(client, f"/members/{hanako}/merges")

    merged = client.post(
        "/merges", data={"survivor": hanako, "merged": taro_number, "reason": "同一人物", "csrf_token": csrf}
    )
    assert (merged.status_code, merged.headers["location"]) == (303, f"/members/{hanako}/merges")
    history = client.get(f"/members/{hanako}/merges").text
    assert "統合履歴" in history and taro_number in history and "統合を解除" in history

    undone = client.post(f"/members/{taro}/unmerge", data={"reason": "別人と判明", "csrf_token": csrf})

    assert (undone.status_code, undone.headers["location"]) == (303, f"/members/{taro}/merges")
    assert "が解除" in client.get(f"/members/{taro}/merges").text


def test_merging_an_unknown_member_number_is_404(web):
    client = web.signed_in("supervisor")
    data = {"survivor": web.members["hanako"], "merged": "0000-0000-0000", "reason": "x", "csrf_token": csrf_of(client)}

    refused = client.post("/merges", data=data)
    assert refused.status_code == 404 and "該当する会員が見つかりません。" in refused.text


# ── who may, and CSRF ───────────────────────────────────────────────────────────────────────────────


FORMS = [
    ("/review/1/accept", {"note": "x"}),
    ("/review/1/reject", {"note": "x"}),
    ("/members/{hanako}/points", {"points": "10", "reason": "x"}),
    ("/members/{taro}/unmerge", {"reason": "x"}),
    ("/merges", {"survivor": "{hanako}", "merged": "{taro}", "reason": "x"}),
]


@pytest.mark.parametrize(("path", "data"), FORMS)
def test_a_form_without_its_csrf_token_is_refused(web, path, data):
    client = web.signed_in("supervisor")
    filled = {key: value.format(**web.members) for key, value in data.items()}

    refused = client.post(path.format(**web.members), data=filled)

    assert refused.status_code == 403, refused.text
    assert merge_rows(client, web.members["hanako"]) == []


@pytest.mark.parametrize(("path", "data"), FORMS)
def test_an_operator_may_not_post_the_supervisor_forms(web, path, data):
    client = web.signed_in("operator")
    filled = {key: value.format(**web.members) for key, value in data.items()} | {"csrf_token": csrf_of(client)}

    assert client.post(path.format(**web.members), data=filled).status_code == 403


@pytest.mark.parametrize("path", ["/review", "/members/{hanako}/merges"])
def test_an_operator_may_not_open_the_supervisor_pages(web, path):
    refused = web.signed_in("operator").get(path.format(**web.members))
    assert refused.status_code == 403
    assert "この操作を行う権限がありません。" in refused.text, "the error page speaks the operator's language"
    assert '<span lang="en">this needs the supervisor role' in refused.text, "then the error's own line"


# ── messages ────────────────────────────────────────────────────────────────────────────────────────


def catalog_keys(locale: str) -> set[str]:
    def flat(data: dict[str, object], prefix: str = "") -> set[str]:
        keys: set[str] = set()
        for key, value in data.items():
            keys |= flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
        return keys

    return flat(tomllib.loads((WEB / "locales" / locale / "supervision.toml").read_text(encoding="utf-8")))


def test_both_languages_have_the_same_supervision_messages():
    assert catalog_keys("ja") == catalog_keys("en")


def test_every_message_our_templates_use_is_in_the_catalog():
    texts = [(WEB / "templates" / name).read_text(encoding="utf-8") for name in OUR_TEMPLATES]
    used = {key for text in texts for key in re.findall(r'_\(["\']([a-z_.]+)["\']', text)}
    static = {key for key in used if not key.endswith(".")}  # "review.kind." ~ item.kind is checked below
    dynamic = {f"review.kind.{kind}" for kind in [*ReviewKind, "unmerged"]} | {f"merges.kinds.{k}" for k in MERGE_KINDS}

    assert (static | dynamic) - catalog_keys("ja") == set()
