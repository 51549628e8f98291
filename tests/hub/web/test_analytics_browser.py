"""The analytics page in a real headless Chromium: a supervisor switches month and rank and downloads a CSV."""

from __future__ import annotations

import random
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.core.analytics.seeded import seed
from tests.hub.web.browser import screenshot
from tests.hub.web.conftest import WebHub
from tests.hub.web.test_console_browser import assert_fits_the_screen, browser, page, sign_in, submit

__all__ = ["browser", "page"]  # the fixtures this module borrows


def show(page: Page, *, month: str, rank: str = "") -> tuple[str, list[str | None]]:
    """Choose month and rank, press 表示; the sales-by-channel table's text and its chart's bar values."""
    page.select_option("#month", month)
    page.select_option("#rank", rank)
    submit(page, page.locator("#show"), lands_on="/analytics")
    expect(page.locator("#month")).to_have_value(month)
    table = page.locator("#table-sales_by_channel")
    expect(table).to_be_visible()
    bars = page.locator("#chart-sales_by_channel rect.bar")
    return table.inner_text(), [bars.nth(n).get_attribute("data-value") for n in range(bars.count())]


def test_a_supervisor_switches_month_and_rank_and_downloads_the_csv(page: Page, web: WebHub, tmp_path: Path):
    seed(random.Random(7)).write(web.hub.engine)
    sign_in(page, "supervisor")
    submit(page, page.get_by_role("link", name="分析"), lands_on="/analytics")
    expect(page.locator("h1")).to_contain_text("ロイヤルティ分析")

    june = show(page, month="2026-06")
    december = show(page, month="2025-12")
    june_gold = show(page, month="2026-06", rank="gold")
    assert june != december and june != june_gold and june_gold[1]
    expect(page.locator("#table-repeat_by_rank tbody tr")).to_have_count(1)  # the gold row alone

    with page.expect_download() as download:
        page.locator("#csv-sales_by_channel").click()
    assert download.value.suggested_filename == "repeat_sales-sales_by_channel-2026-06-gold.csv"
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.decode("utf-8-sig").splitlines()[0].startswith("チャネル,購入会員数,リピート会員数,リピート率")

    show(page, month="2026-06")
    assert_fits_the_screen(page)
    screenshot(page, "analytics-ja.png", tmp_path)
