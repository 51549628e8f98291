from datetime import UTC, datetime, timedelta

from core.records import Profile, Purchase
from core.store.records import linked_members
from hub.web.i18n import catalog
from tests.hub.web.conftest import WebHub, csrf_of


def test_operator_signs_in_searches_by_phone_and_opens_the_member(web: WebHub):
    client = web.signed_in("operator")
    csrf = csrf_of(client)
    found = client.post("/search", data={"query": "０９０（１２３４）５６７８", "csrf_token": csrf})
    assert found.status_code == 200, found.text
    assert "山田 花子" in found.text and "090-****-5678" in found.text
    page = client.get(f"/members/{web.members['hanako']}")
    assert page.status_code == 200, page.text
    assert "hanako@example.jp" in page.text


def test_the_member_page_explains_the_loyalty_score_part_by_part_in_both_languages(web: WebHub):
    member = web.members["hanako"]
    operator = web.signed_in("operator")
    before = operator.get(f"/members/{member}")
    logged = operator.post(
        f"/members/{member}/inquiries",
        data={"channel": "phone", "category": "complaint", "status": "open", "body": "対応が遅い",
              "csrf_token": csrf_of(operator, f"/members/{member}")},
    )  # fmt: skip
    assert logged.status_code == 303, logged.text
    web.hub.run_loyalty_jobs()

    ja = operator.get(f"/members/{member}").text
    en = web.signed_in("admin").get(f"/members/{member}").text

    # no purchases: RFM 0 × 60 %; no answers: 50 × 25 % = 12.5; one open complaint: 100 − 25 − 25 = 50 × 15 % = 7.5
    assert "未計算" in before.text
    assert "スコア 20 の内訳" in ja and "購入なし" in ja and "回答なし（50.0 とみなす）" in ja
    assert "最近の苦情 1 件（うち未解決 1 件）" in ja and "50.0 × 15% = 7.5" in ja
    assert "Why 20" in en and "1 recent complaints (1 unresolved)" in en and "50.0 × 25% = 12.5" in en


def test_a_buyers_page_names_the_rfm_scores_behind_the_score(web: WebHub):
    at = datetime.now(UTC) - timedelta(days=3)
    bought = Purchase(source="shop", external_id="o-1", source_updated_at=at, customer_external_id="c-1",
                      channel="online", total_amount=8_000, purchased_at=at)  # fmt: skip
    with web.hub.engine.begin() as conn:
        web.hub.sink.apply(conn, [Profile(source="shop", external_id="c-1", source_updated_at=at, name="鈴木 一郎")])
        web.hub.sink.apply(conn, [bought])
        member = linked_members(conn, [("shop", "c-1")])[("shop", "c-1")]
    web.hub.run_loyalty_jobs()

    page = web.signed_in("operator").get(f"/members/{member}").text

    # the only buyer: every quintile is 1, so the RFM part is 0 however recent the purchase
    assert "最新購入 1・頻度 1・金額 1（各5段階）" in page and "0.0 × 60% = 0.0" in page


def test_both_languages_have_the_same_loyalty_score_messages():
    def keys(locale: str) -> set[str]:
        return {key for key in catalog(locale) if key.startswith("loyalty_score.")}

    assert keys("ja") == keys("en") != set()
