"""An inquiry an operator logs in the console reaches the call center through the outbox: a ticket of the member's
Zendesk user (or of a user made by member number), then its status and notes, each once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from connectors.zendesk.sandbox import SandboxServer
from core.members.inquiries import InquiryLog
from core.members.summary import MemberSummaries
from core.members.timeline import MemberTimeline
from core.members.timeline_entries import InquiryEntry
from core.store import records as records_repo
from core.store.database import read_only
from hub.runtime import Hub
from tests.connectors.zendesk.factories import CALL_CENTER, SHOP, TownHub


def inquiries(hub: Hub) -> InquiryLog:
    destinations = hub.config.console.inquiry_destinations
    return InquiryLog(hub.engine, hub.members.sealer, hub.outbox, destinations, clock=hub.members.clock)


def member_of(hub: Hub, source: str, external_id: str) -> UUID:
    with read_only(hub.engine).connect() as conn:
        return records_repo.linked_members(conn, [(source, external_id)])[(source, external_id)]


def ticket_of(zendesk: SandboxServer, external_id: str) -> dict[str, Any]:
    with zendesk.state.lock:
        [ticket] = [dict(t) for t in zendesk.state.account.tickets.values() if t.get("external_id") == external_id]
    return ticket


def deliver(hub: Hub) -> int:
    report = hub.dispatcher.dispatch(CALL_CENTER)
    assert report.failed == 0 and report.retrying == 0, report
    return report.delivered


def test_a_logged_inquiry_becomes_a_ticket_of_the_callers_user_and_follows_its_updates(town: TownHub) -> None:
    hub, _, zendesk = town
    assert hub.sync.run(CALL_CENTER, "users").status == "succeeded"
    caller = min(zendesk.record_ids("users"))
    log = inquiries(hub)
    member = member_of(hub, CALL_CENTER, caller)
    body = "マグカップが欠けていたので交換してほしい。"
    logged = log.log(member, channel="phone", status="open", author="佐々木", body=body, category="defect",
                     subject="商品の不具合")  # fmt: skip
    assert deliver(hub) == 1
    ticket = ticket_of(zendesk, logged.external_id)
    assert ticket["requester_id"] == int(caller) and ticket["subject"] == "商品の不具合"
    assert "category_defect" in ticket["tags"] and "via_phone" in ticket["tags"]

    log.update(logged.id, status="solved", note="交換品を発送しました。", author="佐々木")
    assert deliver(hub) == 1 and deliver(hub) == 0
    ticket = ticket_of(zendesk, logged.external_id)
    thread = [comment["body"] for comment in zendesk.state.thread(ticket["id"])]
    assert ticket["status"] == "solved" and len(thread) == 2 and thread[-1].startswith("交換品を発送しました。")

    zendesk.state.export_delay_s = 0.0  # as if Zendesk's minute of hold-back had passed
    assert hub.sync.run(CALL_CENTER, "tickets").status == "succeeded"  # the ticket comes back as the helpdesk's
    shown = MemberTimeline(hub.engine, hub.members.sealer).page(member, kinds=["inquiry"], limit=200).entries
    copies = [e for e in shown if isinstance(e, InquiryEntry) and e.subject == "商品の不具合"]
    assert [(e.source, e.external_id, e.status) for e in copies] == [(CALL_CENTER, str(ticket["id"]), "solved")]
    still_open = sum(1 for e in shown if isinstance(e, InquiryEntry) and e.status in ("open", "pending"))
    assert MemberSummaries(hub.members).member_summary(member).open_inquiries == still_open  # counted once too


def test_a_shopper_the_call_center_never_heard_of_gets_a_user_named_by_member_number(town: TownHub) -> None:
    hub, shop, zendesk = town
    assert hub.sync.run(SHOP, "customers").status == "succeeded"  # the call center's users are not read
    member = member_of(hub, SHOP, shop.state.records.global_id("customers", 1))
    logged = inquiries(hub).log(member, channel="email", status="open", author="高橋", body="ポイントの有効期限は？")
    assert deliver(hub) == 1
    requester = zendesk.state.record("users", ticket_of(zendesk, logged.external_id)["requester_id"])
    assert requester["name"].startswith("会員 ") and requester["external_id"] == requester["name"][3:]

    zendesk.state.export_delay_s = 0.0  # as if Zendesk's minute of hold-back had passed
    assert hub.sync.run(CALL_CENTER, "users").status == "succeeded"  # the user the writer made comes back
    assert member_of(hub, CALL_CENTER, str(requester["id"])) == member  # … and joins the member by its number
