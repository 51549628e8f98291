"""The console in a real headless Chromium: an operator's call, from sign-in to sign-out, in Japanese."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from core.records import Profile, Purchase, PurchaseLine
from hub.web.auth import SECURE_COOKIE
from tests.hub.web.browser import CHROMIUM_ARGS, VIEWPORT, require_chromium, screenshot
from tests.hub.web.conftest import PASSWORD, WebHub
from tests.hub.web.served import served

JST = timezone(timedelta(hours=9))
WAIT_MS = 10_000  # every wait is on a selector or a URL, bounded by this


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, web: WebHub) -> Iterator[Page]:
    """A fresh Japanese browser profile on the console, served over plain HTTP on 127.0.0.1."""
    with served(web.app) as base_url:
        context = browser.new_context(
            base_url=base_url, viewport=VIEWPORT, locale="ja-JP", timezone_id="Asia/Tokyo", device_scale_factor=1
        )
        context.set_default_timeout(WAIT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()


def seed_two_sources(web: WebHub) -> None:
    """An online order from the shop and a store receipt from the tills, both for 山田 花子, through the sink."""
    records = [
        profile("shopify", "gid-7001", days_ago=20, email="hanako@example.jp", email_verified=True),
        profile("pos", "C-0042", days_ago=5, phone="09012345678"),
        purchase("shopify", "#1001", "gid-7001", days_ago=20, amount=3_300, item="煎茶 詰め合わせ"),
        purchase("pos", "R-2048", "C-0042", days_ago=5, amount=1_650, item="羊羹", store="shibuya"),
    ]
    with web.hub.engine.begin() as conn:
        result = web.hub.sink.apply(conn, records)
    assert result.written == len(records), result


def days_before_now(days: int) -> datetime:
    return datetime.now(JST).replace(microsecond=0) - timedelta(days=days)


def profile(source: str, external_id: str, *, days_ago: int, **contact: Any) -> Profile:
    """山田 花子 as ``source`` knows her; her phone (and a verified email) link her to the member."""
    at = days_before_now(days_ago)
    return Profile(source=source, external_id=external_id, source_updated_at=at, name="山田 花子", **contact)


def purchase(
    source: str, external_id: str, customer: str, *, days_ago: int, amount: int, item: str, store: str | None = None
) -> Purchase:
    """A one-line purchase of ``item`` for ``amount`` yen, tax included: in ``store``, or online without one."""
    at = days_before_now(days_ago)
    line = PurchaseLine(line_no=1, product_name=item, quantity=1, unit_price=amount, amount=amount)
    return Purchase(
        source=source, external_id=external_id, source_updated_at=at, customer_external_id=customer,
        channel="store" if store else "online", store_code=store, total_amount=amount, tax_amount=amount // 11,
        purchased_at=at, lines=(line,),
    )  # fmt: skip


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    submit(page, page.locator("form[action='/login'] button[type=submit]"), lands_on="/")
    expect(page.locator("#logout")).to_be_visible()


def submit(page: Page, button: Locator, *, lands_on: str) -> None:
    """Send a form; fails with the console's own message if it answers with an error page instead."""
    button.click()  # waits until the navigation it starts has committed
    page.wait_for_load_state()
    assert urlsplit(page.url).path == lands_on, f"{page.url}: {page.locator('main').inner_text()}"


def session_cookie(page: Page) -> dict[str, object]:
    return next(cookie for cookie in page.context.cookies() if cookie["name"] == SECURE_COOKIE)


def assert_fits_the_screen(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow} px at {VIEWPORT['width']} px"


def test_an_operator_finds_a_caller_by_phone_sees_both_shops_and_logs_the_call(page: Page, web: WebHub, tmp_path: Path):
    seed_two_sources(web)
    member_url = f"/members/{web.members['hanako']}"

    sign_in(page, "operator")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    # Chromium counts http://127.0.0.1 as a secure context, so it keeps the production __Host- cookie
    assert session_cookie(page)["secure"] is True

    page.fill("input[name=query]", "０９０ １２３４ ５６７８")
    submit(page, page.locator("form.searchbar button[type=submit]"), lands_on="/search")
    results = page.locator("#results tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("山田 花子")
    expect(results.first).to_contain_text("090-****-5678")
    assert_fits_the_screen(page)
    screenshot(page, "search-ja.png", tmp_path)

    results.first.get_by_role("link", name="山田 花子").click()
    page.wait_for_url(f"**{member_url}")
    timeline = page.locator("#timeline-entries tbody")
    purchases = timeline.locator("tr.kind-purchase")
    expect(purchases).to_have_count(2)
    expect(purchases.filter(has_text="shopify")).to_contain_text("オンライン")
    expect(purchases.filter(has_text="pos")).to_contain_text("店舗")

    form = page.locator("#log-inquiry form")
    form.locator("select[name=channel]").select_option("phone")
    form.locator("select[name=category]").select_option("delivery")
    form.locator("input[name=subject]").fill("配送日の変更")
    form.locator("textarea[name=body]").fill("お届け日を土曜日の午前中に変更したいとのご依頼。注文 #1001。")
    submit(page, form.locator("button[type=submit]"), lands_on=member_url)
    logged = timeline.locator("tr.kind-inquiry")
    expect(logged).to_have_count(1)
    expect(logged).to_contain_text("お届け日を土曜日の午前中に変更したいとのご依頼")
    expect(logged).to_contain_text("電話")
    assert_fits_the_screen(page)
    screenshot(page, "member-page-ja.png", tmp_path)

    review = page.goto("/review")
    assert review is not None and review.status == 403

    submit(page, page.locator("#logout"), lands_on="/login")
    page.goto(member_url)
    page.wait_for_url("**/login")
    expect(page.locator("input[name=password]")).to_be_visible()
