"""One person across every channel, end to end through the hub and the emulators of one sandbox town.

The same town people (``connectors.town``) shop on Shopify and at the Square tills, call the Zendesk call
center and answer Klaviyo surveys, each system knowing them under its own ids and notations. Synced through
the real connectors over loopback HTTP, each becomes one member whose timeline holds every channel, whose
purchases earn once each, and whose low survey score in Klaviyo issues a coupon that goes back to Klaviyo and
is then used at a Square till.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import func, select

from connectors import town
from connectors.klaviyo.sandbox import SATISFACTION_METRIC
from connectors.klaviyo.sandbox import SandboxServer as MailSandbox
from connectors.shopify.sandbox import SandboxServer as ShopSandbox
from connectors.square.sandbox import SandboxServer as TillSandbox
from connectors.zendesk.sandbox import USER_ID_BASE
from connectors.zendesk.sandbox import SandboxServer as CallSandbox
from core.loyalty.ledger import earn_event
from core.members.timeline import MemberTimeline
from core.members.timeline_entries import InquiryEntry, PurchaseEntry
from core.store import identity as identity_repo
from core.store import models
from core.store import records as records_repo
from core.store.database import read_only
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings
from tests.loyalty_files import apology_coupon, one_rank_rules

pytestmark = pytest.mark.slow

SHOP, TILLS, CALLS, MAIL = "shop", "tills", "calls", "mail"
SEED, PEOPLE = 2026, 40
HUB_TOML = """
[hub]
source_priority = ["console", "shop", "tills", "calls", "mail"]

[identity]
trusted_email_sources = ["mail"]

[connectors.shop]
type = "shopify"
shop_url = "{shop}"
token_env = "OMNI_SHOP_TOKEN"
webhook_secret_env = "OMNI_SHOP_HOOKS"

[connectors.tills]
type = "square"
base_url = "{tills}"
token_env = "OMNI_TILLS_TOKEN"
webhook_signature_key_env = "OMNI_TILLS_KEYS"

[connectors.calls]
type = "zendesk"
base_url = "{calls}"
email = "{calls_email}"
token_env = "OMNI_CALLS_TOKEN"
webhook_secret_env = "OMNI_CALLS_HOOKS"

[connectors.mail]
type = "klaviyo"
base_url = "{mail}"
api_key_env = "OMNI_MAIL_KEY"

[[connectors.mail.surveys]]
metric = "Survey Answered"
survey_code = "post-purchase"
survey_code_property = "survey"
answer_properties = {{ satisfaction = "満足度" }}
"""
LOYALTY_TOML = one_rank_rules("omnichannel", extra=apology_coupon("mail", surveys="max_age_days = 30"))


@dataclass(frozen=True)
class Town:
    hub: Hub
    shop: ShopSandbox
    tills: TillSandbox
    calls: CallSandbox
    mail: MailSandbox


@pytest.fixture(scope="module")
def town_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """Every emulator of the town (one seed), and a hub on SQLite that has synced all of them once."""
    tmp_path = tmp_path_factory.mktemp("omnichannel")
    with (
        pytest.MonkeyPatch.context() as env,
        ShopSandbox(customers=PEOPLE, orders=120, seed=SEED, maximum_available=50_000.0, restore_rate=5_000.0) as shop,
        TillSandbox(customers=30, orders=120, people=PEOPLE, seed=SEED) as tills,
        CallSandbox(users=25, tickets=50, people=PEOPLE, seed=SEED) as calls,
        MailSandbox(profiles=PEOPLE, events=10, seed=SEED) as mail,
    ):
        secrets = {
            "OMNI_SHOP_TOKEN": shop.access_token, "OMNI_SHOP_HOOKS": shop.state.webhook_secret,
            "OMNI_TILLS_TOKEN": tills.access_token, "OMNI_TILLS_KEYS": tills.state.signature_key,
            "OMNI_CALLS_TOKEN": calls.token, "OMNI_CALLS_HOOKS": calls.state.webhook_secret,
            "OMNI_MAIL_KEY": mail.api_key,
        }  # fmt: skip
        for name, value in secrets.items():
            env.setenv(name, value)
        data = tmp_path / "data"
        data.mkdir()
        config = HUB_TOML.format(
            shop=shop.url, tills=tills.url, calls=calls.url, calls_email=calls.email, mail=mail.url
        )
        (data / "hub.toml").write_text(config, encoding="utf-8")
        (data / "loyalty.toml").write_text(LOYALTY_TOML, encoding="utf-8")
        settings = HubSettings(
            data, tmp_path / "keys" / "keyring.json", f"sqlite:///{data / 'hub.db'}", data / "hub.toml",
            data / "loyalty.toml",
        )  # fmt: skip
        hub, _ = init_hub(settings)
        try:
            sync_everything(hub)
            yield Town(hub, shop, tills, calls, mail)
        finally:
            hub.close()


def sync_everything(hub: Hub) -> None:
    jobs = [(name, stream) for name in (SHOP, TILLS, CALLS, MAIL) for stream in streams(hub, name)]
    reports = hub.sync.run_many(jobs)
    assert [(r.connector, r.stream, r.status) for r in reports if r.status != "succeeded"] == []


def streams(hub: Hub, instance: str) -> list[str]:
    return [spec.name for spec in hub.registry.types[hub.registry.instance(instance).type].streams]


@dataclass(frozen=True)
class Person:
    """One town person's ids in the systems that know them."""

    number: int
    shop: str
    till: str
    caller: str


def everywhere(town_hub: Town) -> list[Person]:
    """Town people with a Shopify customer, a Square customer and a Zendesk user who called about a ticket.

    Only people whose records carry evidence the hub may join on (docs/identity.md): the same mobile number
    under a kanji name at the till and in the call center — clerks and agents type some names in katakana
    only, which cannot confirm a kanji name, so those wait in the review queue — and not the shop's in-store
    twins.
    """
    shop, tills, calls = town_hub.shop.state.records, town_hub.tills.state.records, town_hub.calls
    square_ids = {number: tills.record_id("customers", i) for i, number in enumerate(tills.data.person_numbers, 1)}
    requesters = {str(calls.state.record("tickets", t)["requester_id"]) for t in calls.record_ids("tickets")}
    found = []
    for user_id in sorted(calls.record_ids("users")):
        number = int(user_id) - USER_ID_BASE
        user = calls.state.record("users", user_id)
        kanji_name = not any("\u30a0" <= ch <= "\u30ff" for ch in user["name"])
        person = town.person(SEED, number)
        same_mobile = person.mobile is not None and _digits(user.get("phone")) == person.mobile
        if number not in square_ids or number > shop.data.customers or shop.data.twin_of(number) is not None:
            continue
        customer = tills.customer(tills.index_of("customers", square_ids[number]) or 0)
        till_kanji = not any("\u30a0" <= ch <= "\u30ff" for ch in customer.get("family_name", "ア"))
        till_mobile = _digits(customer.get("phone_number")) == person.mobile
        if user_id in requesters and kanji_name and same_mobile and till_kanji and till_mobile:
            found.append(Person(number, shop.global_id("customers", number), square_ids[number], user_id))
    return found


def _digits(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "0" + digits[2:] if digits.startswith("81") else digits


def roots_of(hub: Hub, keys: list[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
    with read_only(hub.engine).connect() as conn:
        links = records_repo.linked_members(conn, keys)
        roots = identity_repo.roots(conn, set(links.values()))
    return {key: roots[member] for key, member in links.items()}


def test_a_person_of_every_channel_is_one_member_with_every_channel_in_the_timeline(town_hub: Town) -> None:
    people = everywhere(town_hub)
    assert len(people) >= 3, "the town must hold people known to the shop, the tills and the call center"
    keys = [key for p in people for key in ((SHOP, p.shop), (TILLS, p.till), (CALLS, p.caller))]
    roots = roots_of(town_hub.hub, keys)
    for p in people:
        assert roots[(SHOP, p.shop)] == roots[(TILLS, p.till)] == roots[(CALLS, p.caller)], f"person {p.number}"

    shop_data = town_hub.shop.state.records.data
    someone = next(p for p in people if any(shop_data.order_customer(i) == p.number for i in range(1, 121)))
    town_hub.tills.state.ring_up(someone.till, [("TENUGUI-01", "手ぬぐい", 1, 1_210)])
    assert town_hub.hub.sync.run(TILLS, "orders").status == "succeeded"
    member = roots[(SHOP, someone.shop)]
    page = MemberTimeline(town_hub.hub.engine, town_hub.hub.members.sealer).page(member, limit=200)
    purchases = {entry.source for entry in page.entries if isinstance(entry, PurchaseEntry)}
    inquiries = {entry.source for entry in page.entries if isinstance(entry, InquiryEntry)}
    assert (purchases, inquiries) == ({SHOP, TILLS}, {CALLS})


def test_every_purchase_earns_once_whatever_is_synced_again(town_hub: Town) -> None:
    hub = town_hub.hub
    before = earn_counts(hub)

    sync_everything(hub)  # an incremental run over the lookback window: every boundary record again
    for stream in ("customers", "orders"):
        assert hub.sync.run(TILLS, stream, full_refresh=True).status == "succeeded"

    after = earn_counts(hub)
    assert after == before
    assert set(after.values()) == {1}, "one earn entry per purchase"
    with read_only(hub.engine).connect() as conn:
        purchases = conn.execute(
            select(models.Purchase.source, models.Purchase.external_id).where(models.Purchase.member_id.is_not(None))
        ).all()
    assert {earn_event(source, external_id) for source, external_id in purchases} <= set(after)


def earn_counts(hub: Hub) -> dict[str, int]:
    entry = models.PointLedgerEntry
    with read_only(hub.engine).connect() as conn:
        rows = conn.execute(
            select(entry.source_event, func.count()).where(entry.kind == "earn").group_by(entry.source_event)
        ).all()
    return {source_event: count for source_event, count in rows}


def test_a_low_survey_score_in_klaviyo_issues_a_coupon_mailed_once_and_used_at_a_square_till(town_hub: Town) -> None:
    hub, mail, tills = town_hub.hub, town_hub.mail, town_hub.tills
    people = everywhere(town_hub)
    profiles = {row["attributes"]["email"]: row["id"] for row in mail.state.profile_rows()}
    someone = next(p for p in people if town.person(SEED, p.number).email in profiles)
    profile = profiles[town.person(SEED, someone.number).email]
    answered = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    mail.state.add_event(profile, SATISFACTION_METRIC, {"survey": "post-purchase", "満足度": 1}, answered)

    assert hub.sync.run(MAIL, "profiles").status == "succeeded"
    assert hub.sync.run(MAIL, "survey_answers").status == "succeeded"
    member = roots_of(hub, [(TILLS, someone.till)])[(TILLS, someone.till)]
    with read_only(hub.engine).connect() as conn:
        coupon = conn.execute(select(models.Coupon).where(models.Coupon.member_id == member)).one()
    reports = hub.dispatcher.dispatch_due()
    [sent] = mail.state.events_named("MemberHub Coupon Issued")
    assert (sent.profile_id, sent.properties["coupon_code"]) == (profile, coupon.code)
    assert [(r.destination, r.failed) for r in reports if r.destination == MAIL] == [(MAIL, 0)]

    tills.state.ring_up(someone.till, [("MUG-01", "有田焼 マグカップ", 1, 2_420)], coupon_code=coupon.code,
                        discount_yen=500)  # fmt: skip
    assert hub.sync.run(TILLS, "orders").status == "succeeded"

    with read_only(hub.engine).begin() as conn:
        held = hub.loyalty.coupons(conn, member)
    [used] = [c for c in held.coupons if c.code == coupon.code]
    assert (used.uses, used.status) == (1, "used_up")
