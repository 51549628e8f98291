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
