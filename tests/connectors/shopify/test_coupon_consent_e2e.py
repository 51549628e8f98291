"""End to end through the hub: a survey answered in another system issues a coupon, and an email consent
changes there; the outbox dispatcher turns them into a discount code and a consent on the member's customer in
the Shopify emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.shopify.sandbox import SandboxServer
from core.records import CanonicalRecord, ConsentChange, Profile, SurveyResponse
from core.store import models
from hub.runtime import Hub
from tests.connectors.shopify.factories import shopify_hub
from tests.loyalty_files import apology_coupon, one_rank_rules

SHOP = "shopify-tokyo"
LOYALTY_TOML = one_rank_rules("e2e-coupons", extra=apology_coupon("shopify-tokyo"))


@pytest.fixture
def shop() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def hub(shop: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    consent = f'\n[consent]\ndestinations = ["{SHOP}"]'
    opened = shopify_hub(shop, tmp_path, monkeypatch, instance=SHOP, loyalty_toml=LOYALTY_TOML, settings=consent)
    yield opened
    opened.close()


@pytest.fixture
def customer(shop: SandboxServer, hub: Hub) -> str:
    """A shop customer the hub knows as a member, and knows again as ``m-1`` of the mailing system (one email)."""
    global_id = next(g for g in shop.record_ids("customers") if shop.state.record("customers", g)["email"])
    email = shop.state.record("customers", global_id)["email"]
    now = datetime.now(UTC)
    store(hub, *(Profile(source=source, external_id=external_id, source_updated_at=now, email=email,
                         email_verified=True)
                 for source, external_id in ((SHOP, global_id), ("mailer", "m-1"))))  # fmt: skip
    return global_id


def store(hub: Hub, *records: CanonicalRecord) -> None:
    """Records synced from a source: stored and acted on in one transaction, consent messages included."""
    with hub.engine.begin() as conn:
        hub.sink.apply(conn, list(records))


def statuses(hub: Hub, kind: str) -> list[str]:
    with hub.engine.connect() as conn:
        return list(conn.scalars(select(models.OutboxMessage.status).where(models.OutboxMessage.kind == kind)))


def test_a_coupon_issued_for_a_survey_answer_becomes_the_customers_discount_code_once(shop, hub, customer):
    answered = datetime.now(UTC) - timedelta(hours=1)
    unhappy = SurveyResponse(source="mailer", external_id="r-1", source_updated_at=answered, answered_at=answered,
                             survey_code="post-purchase", customer_external_id="m-1",
                             answers={"satisfaction": "1"})  # fmt: skip
    store(hub, unhappy)

    reports = hub.dispatcher.dispatch_due()
    with hub.engine.begin() as conn:  # the delivery's acknowledgement is lost: the dispatcher sends it again
        conn.execute(update(models.OutboxMessage).values(status="pending", next_attempt_at=datetime.now(UTC)))
    again = hub.dispatcher.dispatch_due()

    with hub.engine.connect() as conn:
        code = conn.scalars(select(models.Coupon.code)).one()
    node = shop.state.discount(code)
    assert [(report.destination, report.delivered, report.failed) for report in (*reports, *again)] == [
        (SHOP, 1, 0), (SHOP, 1, 0),
    ]  # fmt: skip
    assert statuses(hub, "coupon.issued") == ["delivered"]
    assert node is not None
    assert [person["id"] for person in node["codeDiscount"]["customerSelection"]["customers"]] == [customer]
    assert shop.state.discount_count() == 1


def test_an_unsubscribe_in_the_mailing_system_reaches_the_shopify_customer(shop, hub, customer):
    changed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    store(hub, ConsentChange(source="mailer", external_id="u-1", source_updated_at=changed, channel="email",
                             subscribed=False, changed_at=changed, customer_external_id="m-1"))  # fmt: skip

    hub.dispatcher.dispatch_due()

    held = shop.state.record("customers", customer)["emailMarketingConsent"]
    assert statuses(hub, "member.consent") == ["delivered"]
    assert (held["marketingState"], held["consentUpdatedAt"]) == (
        "UNSUBSCRIBED",
        changed.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
