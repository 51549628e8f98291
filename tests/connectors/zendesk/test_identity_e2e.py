"""The call center's callers are the town's shoppers: synced through the hub, a Zendesk user who gave the phone
or a verified email of a Shopify customer joins that customer's member, and their tickets land in its timeline,
polled or by webhook."""

from __future__ import annotations

import httpx

from connectors.zendesk.sandbox import USER_ID_BASE
from connectors.zendesk.sandbox import SandboxServer as ZendeskSandbox
from core.members.timeline import MemberTimeline
from core.members.timeline_entries import InquiryEntry
from core.store import identity as identity_repo
from core.store import records as records_repo
from core.store.database import read_only
from hub.web import create_app
from tests.connectors.zendesk.factories import CALL_CENTER, SHOP, TownHub
from tests.hub.web.served import served


def matchable(zendesk: ZendeskSandbox, user_id: str) -> bool:
    """A caller the hub can recognise: a kanji name and a mobile number the shop knows, or a verified email."""
    user = zendesk.state.record("users", user_id)
    in_shop = (int(user_id) - USER_ID_BASE) % 10 != 0  # the shop's every tenth record is a twin of the one before
    kanji = not any("\u30a0" <= ch <= "\u30ff" for ch in user["name"])
    mobile = bool(user["phone"]) and user["phone"].replace("-", "").replace("+81", "0").startswith(
        ("070", "080", "090")
    )
    return in_shop and ((kanji and mobile) or bool(user["email"] and user["verified"]))


def test_callers_join_the_members_of_their_shop_accounts_and_their_tickets_show_in_the_timeline(
    town: TownHub,
) -> None:
    opened, shop, zendesk = town
    for instance, stream in ((SHOP, "customers"), (CALL_CENTER, "users"), (CALL_CENTER, "tickets")):
        assert opened.sync.run(instance, stream).status == "succeeded", (instance, stream)

    callers = sorted(user for user in zendesk.record_ids("users") if matchable(zendesk, user))
    assert len(callers) >= 10
    shop_ids = {n: shop.state.records.global_id("customers", n) for n in range(1, 58)}
    with read_only(opened.engine).connect() as conn:
        keys = [(CALL_CENTER, user) for user in callers] + [(SHOP, gid) for gid in shop_ids.values()]
        links = records_repo.linked_members(conn, keys)
        root = identity_repo.roots(conn, set(links.values()))
    for user in callers:
        person = int(user) - USER_ID_BASE
        assert root[links[(CALL_CENTER, user)]] == root[links[(SHOP, shop_ids[person])]], f"caller {user}"

    requesters = {t: str(zendesk.state.record("tickets", t)["requester_id"]) for t in zendesk.record_ids("tickets")}
    caller = next(user for user in callers if user in requesters.values())
    member = root[links[(CALL_CENTER, caller)]]
    page = MemberTimeline(opened.engine, opened.members.sealer).page(member, kinds=["inquiry"], limit=200)
    inquiries = {entry.external_id for entry in page.entries if isinstance(entry, InquiryEntry)}
    assert inquiries >= {t for t, who in requesters.items() if who == caller}


def test_a_ticket_an_agent_opens_reaches_the_member_by_webhook_before_any_sync(
    town: TownHub,
) -> None:
    opened, _, zendesk = town
    assert opened.sync.run(CALL_CENTER, "users").status == "succeeded"
    caller = min(zendesk.record_ids("users"))
    with served(create_app(opened)) as base_url:
        sender = zendesk.state.subscribe(f"{base_url}/webhooks/{CALL_CENTER}")
        ticket = {"subject": "配送遅延のお問い合わせ", "requester_id": int(caller),
                  "comment": {"body": "お電話にて受付。荷物が届かないとのこと。"}}  # fmt: skip
        with httpx.Client(base_url=zendesk.url, auth=(f"{zendesk.email}/token", zendesk.token)) as api:
            made = api.post("/api/v2/tickets.json", json={"ticket": ticket}).json()["ticket"]
        sender.flush()
    assert sender.sent == [200]
    with read_only(opened.engine).connect() as conn:
        member = records_repo.linked_members(conn, [(CALL_CENTER, caller)])[(CALL_CENTER, caller)]
    page = MemberTimeline(opened.engine, opened.members.sealer).page(member, kinds=["inquiry"], limit=200)
    [entry] = [e for e in page.entries if isinstance(e, InquiryEntry) and e.external_id == str(made["id"])]
    assert entry.subject == "配送遅延のお問い合わせ" and entry.channel == "web"
