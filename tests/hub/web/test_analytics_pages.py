"""The analytics page, its CSV downloads and its JSON: supervisors and admins only, figures from the report cache."""

from __future__ import annotations

import csv
import io
import random
from typing import get_args

import pytest
from sqlalchemy import func, select

from core.access import Role
from core.analytics.catalog import REPORTS
from core.store.models import ReportCache
from hub.web.api.analytics import ReportName
from tests.core.analytics.seeded import seed
from tests.hub.web.conftest import WebHub


@pytest.fixture
def seeded(web: WebHub) -> WebHub:
    seed(random.Random(7)).write(web.hub.engine)
    return web


def cached_reports(web: WebHub) -> int:
    with web.hub.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ReportCache)).scalar_one())


def test_the_api_names_every_report_of_the_catalog() -> None:
    assert set(get_args(ReportName)) == {kind.name for kind in REPORTS}


def test_a_supervisor_sees_charts_and_tables_that_change_with_the_rank(seeded: WebHub) -> None:
    client = seeded.signed_in("supervisor")
    every = client.get("/analytics", params={"report": "repeat_sales", "month": "2026-06"})
    gold = client.get("/analytics", params={"report": "repeat_sales", "month": "2026-06", "rank": "gold"})
    assert every.status_code == gold.status_code == 200
    for page in (every, gold):
        assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-sales_by_channel"' in page.text
        assert 'id="table-repeat_by_rank"' in page.text
        assert "チャネル別 売上" in page.text  # the supervisor signs in in Japanese
    assert every.text.count("<tr>") > gold.text.count("<tr>")
    assert cached_reports(seeded) == 1  # computed once on the miss, then read from the cache


def test_every_report_renders_for_every_rank(seeded: WebHub) -> None:
    client = seeded.signed_in("admin")
    for kind in REPORTS:
        for rank in ("", "regular", "gold"):
            page = client.get("/analytics", params={"report": kind.name, "month": "2026-06", "rank": rank})
            assert page.status_code == 200, (kind.name, rank, page.text[:300])
    assert cached_reports(seeded) == len(REPORTS)


def test_an_operator_is_refused_the_page_the_csv_and_the_json(seeded: WebHub) -> None:
    client = seeded.signed_in("operator")
    assert client.get("/analytics").status_code == 403
    assert client.get("/analytics/repeat_sales/sales_by_channel.csv").status_code == 403
    assert client.get("/api/v1/analytics/repeat_sales").status_code == 403
    assert 'href="/analytics"' not in client.get("/").text


def test_the_csv_is_utf8_with_a_bom_and_japanese_headers(seeded: WebHub) -> None:
    client = seeded.signed_in("supervisor")
    response = client.get("/analytics/repeat_sales/sales_by_channel.csv", params={"month": "2026-06"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="repeat_sales-sales_by_channel-2026-06.csv"' in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["チャネル", "購入会員数", "リピート会員数"]
    api = client.get("/api/v1/analytics/repeat_sales", params={"month": "2026-06"}).json()
    table = next(t for t in api["tables"] if t["name"] == "sales_by_channel")
    assert [row[-1] for row in rows[1:]] == [str(row[-1]) for row in table["rows"]]


def test_the_json_answers_a_token_with_the_analytics_scope(seeded: WebHub) -> None:
    client = seeded.client()
    token = seeded.token(Role.SUPERVISOR, ["analytics:read"], name="bi")
    response = client.get(
        "/api/v1/analytics/growth_churn", params={"month": "2026-06", "rank": "silver"},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert (body["report"], body["period"], body["rank"]) == ("growth_churn", "2026-06", "silver")
    [growth] = body["tables"]
    assert [row[0] for row in growth["rows"]] == ["silver"]
    assert client.get("/api/v1/analytics/growth_churn", params={"month": "2026-13"}, headers={
        "Authorization": f"Bearer {token}"}).status_code == 422  # fmt: skip
