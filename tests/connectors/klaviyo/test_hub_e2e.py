"""End to end through the hub: the town's people shop on Shopify and read the newsletter on Klaviyo; a low
satisfaction answered in Klaviyo issues a coupon, which goes back to Klaviyo as one event on the same person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.klaviyo.sandbox import SATISFACTION_METRIC
from connectors.klaviyo.sandbox import SandboxServer as KlaviyoSandbox
from connectors.shopify.sandbox import SandboxServer as ShopifySandbox
from core.store import models
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings
from tests.loyalty_files import apology_coupon, one_rank_rules

SHOP, MAILER = "shopify-tokyo", "mailer"
LOYALTY_TOML = one_rank_rules("e2e-klaviyo", extra=apology_coupon("mailer"))
HUB_TOML = """
[connectors.shopify-tokyo]
type = "shopify"
shop_url = "{shop_url}"
token_env = "TEST_SHOPIFY_TOKEN"
webhook_secret_env = "TEST_SHOPIFY_WEBHOOK_SECRETS"

[connectors.mailer]
type = "klaviyo"
base_url = "{mailer_url}"
api_key_env = "TEST_KLAVIYO_KEY"
list_id = "NwsLtr"

[[connectors.mailer.surveys]]
metric = "Survey Answered"
survey_code = "post-purchase"
survey_code_property = "survey"
answer_properties = {{ satisfaction = "満足度", staff = "スタッフの対応" }}

[identity]
trusted_email_sources = ["mailer"]
"""


@pytest.fixture
def mailer() -> Iterator[KlaviyoSandbox]:
    with KlaviyoSandbox(profiles=30, events=10) as server:
        yield server


@pytest.fixture
def shop() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(maximum_available=50_000.0, restore_rate=2_000.0) as server:  # never runs dry here
        yield server


@pytest.fixture
def hub(shop: ShopifySandbox, mailer: KlaviyoSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """A hub on SQLite with the Shopify shop and the Klaviyo account, and a survey rule that issues coupons."""
    monkeypatch.setenv("TEST_KLAVIYO_KEY", mailer.api_key)
    monkeypatch.setenv("TEST_SHOPIFY_TOKEN", shop.access_token)
    monkeypatch.setenv("TEST_SHOPIFY_WEBHOOK_SECRETS", shop.state.webhook_secret)
    data = tmp_path / "data"
    data.mkdir()
    (data / "hub.toml").write_text(HUB_TOML.format(shop_url=shop.url, mailer_url=mailer.url), encoding="utf-8")
    (data / "loyalty.toml").write_text(LOYALTY_TOML, encoding="utf-8")
    settings = HubSettings(
        data, tmp_path / "keys" / "keyring.json", f"sqlite:///{data / 'hub.db'}", data / "hub.toml",
        data / "loyalty.toml",
    )  # fmt: skip
    opened, _ = init_hub(settings)
    yield opened
    opened.close()


def members_of(hub: Hub, source: str, external_id: str) -> set[object]:
    with hub.engine.connect() as conn:
        query = select(models.SourceLink.member_id).where(
            models.SourceLink.source == source, models.SourceLink.external_id == external_id
        )
        return set(conn.scalars(query))


def test_a_low_satisfaction_in_klaviyo_sends_one_coupon_event_to_the_same_person(
    hub: Hub, shop: ShopifySandbox, mailer: KlaviyoSandbox
) -> None:
    assert hub.sync.run(SHOP, "customers").status == "succeeded"
    assert hub.sync.run(MAILER, "profiles").status == "succeeded"
    assert hub.sync.run(MAILER, "survey_answers").status == "succeeded"
    subscribed = next(
        row for row in mailer.state.profile_rows()
        if row["attributes"]["email"] and members_of(hub, MAILER, row["id"])
    )  # fmt: skip
    answered = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    properties = {"survey": "post-purchase", "満足度": 1, "comment": "レジの待ち時間が長かったです。"}
    mailer.state.add_event(subscribed["id"], SATISFACTION_METRIC, properties, answered)

    assert hub.sync.run(MAILER, "survey_answers").status == "succeeded"
    reports = hub.dispatcher.dispatch_due()
    with hub.engine.begin() as conn:  # the acknowledgement is lost: the dispatcher delivers it again
        conn.execute(update(models.OutboxMessage).values(status="pending", next_attempt_at=datetime.now(UTC)))
    again = hub.dispatcher.dispatch_due()

    with hub.engine.connect() as conn:
        code = conn.scalars(select(models.Coupon.code)).one()
    [sent] = mailer.state.events_named("MemberHub Coupon Issued")
    assert [(r.destination, r.delivered, r.failed) for r in (*reports, *again)] == [(MAILER, 1, 0), (MAILER, 1, 0)]
    assert (sent.profile_id, sent.properties["coupon_code"]) == (subscribed["id"], code)


def test_klaviyo_profiles_join_the_shopify_customers_of_the_same_town_people(
    hub: Hub, shop: ShopifySandbox, mailer: KlaviyoSandbox
) -> None:
    assert hub.sync.run(SHOP, "customers").status == "succeeded"
    assert hub.sync.run(MAILER, "profiles").status == "succeeded"
    with hub.engine.connect() as conn:
        sources = conn.execute(select(models.SourceLink.member_id, models.SourceLink.source)).all()
    by_member: dict[object, set[str]] = {}
    for member_id, source in sources:
        by_member.setdefault(member_id, set()).add(source)
    shared = [member for member, seen in by_member.items() if seen == {SHOP, MAILER}]
    assert len(shared) >= 20, f"only {len(shared)} of 30 Klaviyo profiles met their Shopify customer"
