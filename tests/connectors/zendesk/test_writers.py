"""The writers against the emulator over real HTTP: tickets for inquiries and surveys, loyalty user fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import httpx
import pytest

from connectors.zendesk import ZendeskConnector
from connectors.zendesk.sandbox import SandboxServer
from core.errors import PermanentError, RetryableError
from core.sync.contract import OutboundMessage
from core.sync.retry import RetryPolicy

MEMBER = str(uuid4())
LOGGED_NOTE = "お電話にて受付。マグカップの返品希望。\n\n（MemberHub コンソールで 佐々木 が記録）"


def inquiry_logged(customer_id: str | None, *, external_id: str = "console-0001", **changes: Any) -> OutboundMessage:
    payload = {
        "inquiry_id": 7, "external_id": external_id, "member_id": MEMBER, "channel": "phone",
        "category": "returns", "status": "open", "subject": "返品について", "opened_at": "2026-11-30T10:00:00+09:00",
        "author": "佐々木", "body": "お電話にて受付。マグカップの返品希望。", "customer_id": customer_id,
        "member_number": "M-000123", **changes,
    }  # fmt: skip
    return OutboundMessage("inquiry.logged", f"inquiry:{external_id}:zendesk", payload, MEMBER)


def inquiry_updated(status: str, note: str | None, *, external_id: str = "console-0001") -> OutboundMessage:
    payload = {**inquiry_logged(None, external_id=external_id).payload, "status": status, "note": note}
    del payload["body"]
    return OutboundMessage("inquiry.updated", f"inquiry:{external_id}:update:2:{status}:zendesk", payload, MEMBER)


def survey_call_center(customer_id: str | None) -> OutboundMessage:
    payload = {
        "member_id": MEMBER, "customer_id": customer_id, "member_number": "M-000456", "rule": "low-score",
        "survey_code": "nps-2026", "response": {"source": "klaviyo", "external_id": "resp-77"},
        "answered_at": "2026-11-29T12:00:00+00:00", "question": "score", "answer": "2", "coupon_code": "SORRY500",
    }  # fmt: skip
    return OutboundMessage("survey.call_center", "survey-response:77:low-score:call-center", payload, MEMBER)


def loyalty(*changes: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage("member.loyalty", f"loyalty:{uuid4()}", {"changes": list(changes)})


def change(customer_id: str | None, rank: str | None, points: int) -> dict[str, Any]:
    return {"member_id": str(uuid4()), "customer_id": customer_id, "member_number": "M-1", "rank": rank,
            "points_available": points, "points_pending": 0, "expiring_points": 0, "expiring_at": None,
            "segments": []}  # fmt: skip


def tickets_for(sandbox: SandboxServer, external_id: str) -> list[dict[str, Any]]:
    with sandbox.state.lock:
        return [dict(t) for t in sandbox.state.account.tickets.values() if t.get("external_id") == external_id]


def a_customer(sandbox: SandboxServer) -> str:
    return min(sandbox.record_ids("users"))


def test_an_inquiry_becomes_one_ticket_of_the_member_with_an_internal_note(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    customer = a_customer(sandbox)
    connector.deliver(inquiry_logged(customer))
    [ticket] = tickets_for(sandbox, "console-0001")
    assert ticket["requester_id"] == int(customer) and ticket["subject"] == "返品について"
    assert ticket["status"] == "open" and "category_returns" in ticket["tags"] and "memberhub" in ticket["tags"]
    [note] = sandbox.state.thread(ticket["id"])
    assert note["body"] == LOGGED_NOTE and note["public"] is False


def test_a_retried_delivery_creates_the_ticket_once(
    sandbox: SandboxServer, connect: Callable[..., ZendeskConnector]
) -> None:
    retrying = connect(retry=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05))
    sandbox.state.fail_next(2, 503, path="/api/v2/tickets.json")
    message = inquiry_logged(a_customer(sandbox))
    retrying.deliver(message)
    retrying.deliver(message)  # the outbox delivers again after a lost acknowledgement
    assert len(tickets_for(sandbox, "console-0001")) == 1
    assert sandbox.state.writes == [message.idempotency_key]


def test_a_member_without_a_zendesk_user_gets_one_named_by_member_number(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    connector.deliver(inquiry_logged(None, external_id="console-0001"))
    connector.deliver(inquiry_logged(None, external_id="console-0002"))
    with sandbox.state.lock:
        made = [u for u in sandbox.state.account.users.values() if u.get("external_id") == "M-000123"]
    assert [u["name"] for u in made] == ["会員 M-000123"]
    requesters = {t["requester_id"] for e in ("console-0001", "console-0002") for t in tickets_for(sandbox, e)}
    assert requesters == {made[0]["id"]}


def test_an_inquiry_already_open_as_a_ticket_gets_the_message_as_a_comment_once(
    sandbox: SandboxServer, connector: ZendeskConnector, api: httpx.Client
) -> None:
    customer = a_customer(sandbox)
    ticket = {"subject": "返品", "comment": {"body": "先に受付済み"}, "requester_id": int(customer),
              "external_id": "console-0001"}  # fmt: skip
    opened = api.post("/api/v2/tickets.json", json={"ticket": ticket}).json()["ticket"]
    connector.deliver(inquiry_logged(customer))
    connector.deliver(inquiry_logged(customer))
    bodies = [c["body"] for c in sandbox.state.thread(opened["id"])]
    assert bodies == ["先に受付済み", LOGGED_NOTE]
    assert len(tickets_for(sandbox, "console-0001")) == 1


def test_an_update_sets_the_status_and_adds_the_note_once(sandbox: SandboxServer, connector: ZendeskConnector) -> None:
    connector.deliver(inquiry_logged(a_customer(sandbox)))
    update = inquiry_updated("solved", "返送伝票を送付しました。")
    connector.deliver(update)
    connector.deliver(update)
    [ticket] = tickets_for(sandbox, "console-0001")
    assert ticket["status"] == "solved"
    assert [c["body"] for c in sandbox.state.thread(ticket["id"])][1:] == [
        "返送伝票を送付しました。\n\n（MemberHub コンソールで 佐々木 が記録）"
    ]


def test_an_update_without_a_note_says_what_changed(sandbox: SandboxServer, connector: ZendeskConnector) -> None:
    connector.deliver(inquiry_logged(a_customer(sandbox)))
    connector.deliver(inquiry_updated("closed", None))
    [ticket] = tickets_for(sandbox, "console-0001")
    assert ticket["status"] == "solved"  # the API cannot close a ticket; Zendesk closes it later
    assert "closed" in sandbox.state.thread(ticket["id"])[-1]["body"]


def test_an_update_before_its_ticket_exists_is_retried_later(connector: ZendeskConnector) -> None:
    with pytest.raises(RetryableError, match="no ticket"):
        connector.deliver(inquiry_updated("pending", "確認中"))


def test_an_update_of_a_closed_ticket_is_refused(sandbox: SandboxServer, connector: ZendeskConnector) -> None:
    connector.deliver(inquiry_logged(a_customer(sandbox)))
    [ticket] = tickets_for(sandbox, "console-0001")
    with sandbox.state.lock:
        sandbox.state.account.tickets[ticket["id"]]["status"] = "closed"
    with pytest.raises(PermanentError, match="closed"):
        connector.deliver(inquiry_updated("open", "再開"))


def test_an_unknown_requester_is_a_record_invalid_naming_the_field(connector: ZendeskConnector) -> None:
    with pytest.raises(PermanentError) as caught:
        connector.deliver(inquiry_logged("999999"))
    assert "422" in str(caught.value) and "requester_id (InvalidValue)" in str(caught.value)
    assert "999999" not in str(caught.value)


def test_a_survey_answer_needing_a_call_becomes_one_call_center_ticket(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    message = survey_call_center(None)
    connector.deliver(message)
    connector.deliver(message)
    [ticket] = tickets_for(sandbox, "survey:klaviyo:resp-77:low-score")
    assert "nps-2026" in ticket["subject"] and "category_survey" in ticket["tags"]
    [note] = sandbox.state.thread(ticket["id"])
    assert all(text in note["body"] for text in ("low-score", "nps-2026", "回答: 2", "SORRY500"))
    assert sandbox.state.record("users", ticket["requester_id"])["external_id"] == "M-000456"


def test_loyalty_changes_set_user_fields_in_batches_skipping_members_without_a_user(
    sandbox: SandboxServer, connect: Callable[..., ZendeskConnector]
) -> None:
    writer = connect(loyalty_batch_size=2)
    customers = sorted(sandbox.record_ids("users"))[:5]
    changes = [change(c, "gold" if k % 2 else None, 100 * k) for k, c in enumerate(customers)]
    writer.deliver(loyalty(*changes, change(None, "silver", 5)))
    for k, customer in enumerate(customers):
        fields = sandbox.state.record("users", customer)["user_fields"]
        assert fields["member_rank"] == ("gold" if k % 2 else None) and fields["member_points"] == 100 * k
    assert sandbox.state.request_count("/api/v2/users/update_many.json") == 3


def test_rank_benefit_flags_set_the_multiselect_user_field_and_leave_it_when_a_hub_sends_none(
    sandbox: SandboxServer, connect: Callable[..., ZendeskConnector]
) -> None:
    writer = connect(benefits_field="member_benefits")
    customer = a_customer(sandbox)
    flagged = {**change(customer, "gold", 10), "flags": ["priority_reservation", "rank_only_sale"]}

    writer.deliver(loyalty(flagged))
    granted = sandbox.state.record("users", customer)["user_fields"]["member_benefits"]
    writer.deliver(loyalty({**flagged, "rank": "regular", "flags": []}))
    withdrawn = sandbox.state.record("users", customer)["user_fields"]["member_benefits"]
    writer.deliver(loyalty(change(customer, "silver", 20)))  # an older hub: no flags

    fields = sandbox.state.record("users", customer)["user_fields"]
    assert (granted, withdrawn) == (["priority_reservation", "rank_only_sale"], [])
    assert (fields["member_benefits"], fields["member_rank"]) == ([], "silver")


def test_without_a_benefits_field_the_flags_are_not_written(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    customer = a_customer(sandbox)
    connector.deliver(loyalty({**change(customer, "gold", 10), "flags": ["priority_reservation"]}))
    assert sandbox.state.record("users", customer)["user_fields"].get("member_benefits") is None


def test_a_loyalty_change_for_a_vanished_user_is_reported_after_the_rest_went_through(
    sandbox: SandboxServer, connector: ZendeskConnector
) -> None:
    customer = a_customer(sandbox)
    with pytest.raises(PermanentError, match="1 of 2 user updates refused; first: UserNotFound"):
        connector.deliver(loyalty(change("424242", "gold", 10), change(customer, "gold", 900)))
    assert sandbox.state.record("users", customer)["user_fields"]["member_points"] == 900


def test_a_payload_that_does_not_fit_is_permanent_and_names_only_fields(connector: ZendeskConnector) -> None:
    with pytest.raises(PermanentError, match=r"inquiry\.logged payload invalid: channel") as caught:
        connector.deliver(inquiry_logged("1", channel="fax"))
    assert "fax" not in str(caught.value)


def test_a_kind_the_connector_does_not_write_is_refused(connector: ZendeskConnector) -> None:
    with pytest.raises(PermanentError, match="does not write"):
        connector.deliver(OutboundMessage("member.rank", "k", {}))
