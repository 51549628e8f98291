"""The member number and profile written to Square customers, over loopback HTTP to the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.square import SquareConnector
from connectors.square.client import SquareClient
from connectors.square.sandbox import SandboxServer
from core.errors import PermanentError, RetryableError
from core.sync.contract import OutboundMessage
from core.sync.retry import RetryPolicy

MEMBER = "0193a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"


def loyalty(*changes: dict[str, Any], key: str = "status:1") -> OutboundMessage:
    return OutboundMessage("member.loyalty", key, {"changes": list(changes)})


def change(customer_id: str | None, number: str = "M00012345", member_id: str = MEMBER) -> dict[str, Any]:
    return {
        "member_id": member_id, "customer_id": customer_id, "member_number": number, "rank": "gold",
        "points_available": 1200, "points_pending": 0, "expiring_points": 100, "expiring_at": None, "segments": [],
    }  # fmt: skip


def profile(customer_id: str | None, changed: list[str], **values: Any) -> OutboundMessage:
    payload = {
        "member_id": MEMBER, "customer_id": customer_id, "member_number": "M00012345", "name": "佐藤 花子",
        "kana": "サトウ ハナコ", "email": "hanako.sato@example.jp", "phone": "+819012345678",
        "postal_code": "150-0001", "address": "東京都渋谷区神宮前1丁目2番3号", "birthday": "1988-04-12",
        "changed": changed, **values,
    }  # fmt: skip
    return OutboundMessage("member.profile", f"profile:{customer_id}:{changed}", payload, member_id=MEMBER)


def puts(sandbox: SandboxServer) -> int:
    return sandbox.state.request_count("PUT", "/v2/customers/")


def test_the_member_number_becomes_the_customers_reference_id(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    first, second = sandbox.record_ids("customers")[:2]
    connector.deliver(loyalty(change(first, "M00000001"), change(second, "M00000002")))
    assert sandbox.state.record("customers", first)["reference_id"] == "M00000001"
    assert sandbox.state.record("customers", second)["reference_id"] == "M00000002"


def test_a_retried_delivery_changes_nothing_and_sends_no_update(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    customer_id = sandbox.record_ids("customers")[0]
    message = loyalty(change(customer_id))
    connector.deliver(message)
    version = sandbox.state.record("customers", customer_id)["version"]
    connector.deliver(message)
    assert puts(sandbox) == 1
    assert sandbox.state.record("customers", customer_id)["version"] == version


def test_a_member_without_a_customer_here_is_skipped(sandbox: SandboxServer, connector: SquareConnector) -> None:
    connector.deliver(loyalty(change(None)))
    assert sandbox.state.request_count() == 0


def test_a_customer_gone_from_square_is_refused_after_the_others_went_through(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    present = sandbox.record_ids("customers")[0]
    with pytest.raises(PermanentError, match="1 of 2 loyalty changes refused") as refused:
        connector.deliver(loyalty(change("NOSUCHCUSTOMER000000000000"), change(present)))
    assert MEMBER in str(refused.value) and "M000" not in str(refused.value)
    assert sandbox.state.record("customers", present)["reference_id"] == "M00012345"


def test_a_stale_version_is_a_conflict_the_client_does_not_resend(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    client = SquareClient(connector.config, sandbox.access_token, retry=RetryPolicy(max_attempts=3, base_delay=0.0))
    customer_id = sandbox.record_ids("customers")[0]
    stale = sandbox.state.record("customers", customer_id)["version"]
    sandbox.state.update_customer(customer_id, note="常連")
    with pytest.raises(PermanentError, match="409") as conflict:
        client.update_customer(customer_id, {"reference_id": "M1", "version": stale})
    client.close()
    assert conflict.value.status == 409 and puts(sandbox) == 1


class ClerkEditsFirst(httpx.BaseTransport):
    """The wire to the sandbox, where a clerk edits the customer just before our first update arrives."""

    def __init__(self, sandbox: SandboxServer, times: int = 1) -> None:
        self._wire = httpx.HTTPTransport()
        self._sandbox = sandbox
        self._times = times

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and self._times > 0:
            self._times -= 1
            self._sandbox.state.update_customer(request.url.path.rsplit("/", 1)[-1], note="ギフト包装希望")
        return self._wire.handle_request(request)


def test_a_customer_edited_at_the_till_between_read_and_write_is_read_and_written_again(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    customer_id = sandbox.record_ids("customers")[0]
    connect(transport=ClerkEditsFirst(sandbox)).deliver(loyalty(change(customer_id)))
    after = sandbox.state.record("customers", customer_id)
    assert (after["reference_id"], after["note"]) == ("M00012345", "ギフト包装希望")
    assert puts(sandbox) == 2


def test_a_customer_that_keeps_changing_is_left_for_a_later_delivery(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    customer_id = sandbox.record_ids("customers")[0]
    with pytest.raises(RetryableError, match="keeps changing"):
        connect(transport=ClerkEditsFirst(sandbox, times=5)).deliver(loyalty(change(customer_id)))
    assert "reference_id" not in sandbox.state.record("customers", customer_id)


def test_a_profile_change_sends_only_the_changed_fields(sandbox: SandboxServer, connector: SquareConnector) -> None:
    customer_id = sandbox.record_ids("customers")[1]
    before = sandbox.state.record("customers", customer_id)
    connector.deliver(profile(customer_id, ["name", "phone"]))
    after = sandbox.state.record("customers", customer_id)
    assert (after["family_name"], after["given_name"], after["phone_number"]) == ("佐藤", "花子", "+819012345678")
    assert after.get("email_address") == before.get("email_address")
    assert after.get("birthday") == before.get("birthday")


def test_a_name_without_a_space_is_all_family_name(sandbox: SandboxServer, connector: SquareConnector) -> None:
    customer_id = sandbox.record_ids("customers")[1]
    connector.deliver(profile(customer_id, ["name"], name="佐藤花子"))
    after = sandbox.state.record("customers", customer_id)
    assert after["family_name"] == "佐藤花子" and "given_name" not in after


def test_a_cleared_email_is_removed_and_a_new_address_replaces_the_parts(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    customer_id = sandbox.record_ids("customers")[2]
    connector.deliver(profile(customer_id, ["email", "address", "postal_code", "birthday"], email=None))
    after = sandbox.state.record("customers", customer_id)
    assert "email_address" not in after
    assert after["address"] == {
        "address_line_1": "東京都渋谷区神宮前1丁目2番3号",
        "postal_code": "150-0001",
        "country": "JP",
    }
    assert after["birthday"] == "1988-04-12"


def test_a_profile_already_in_square_sends_nothing(sandbox: SandboxServer, connector: SquareConnector) -> None:
    customer_id = sandbox.record_ids("customers")[1]
    message = profile(customer_id, ["name", "email"])
    connector.deliver(message)
    connector.deliver(message)
    assert puts(sandbox) == 1


def test_a_kana_change_alone_has_no_square_field_and_sends_nothing(
    sandbox: SandboxServer, connector: SquareConnector
) -> None:
    connector.deliver(profile(sandbox.record_ids("customers")[1], ["kana"]))
    assert puts(sandbox) == 0


def test_a_malformed_payload_is_permanent_and_repeats_no_values(connector: SquareConnector) -> None:
    message = OutboundMessage(
        "member.profile", "k", {"member_id": MEMBER, "customer_id": "C", "birthday": "花子の誕生日"}
    )
    with pytest.raises(PermanentError, match="birthday") as refused:
        connector.deliver(message)
    assert "花子" not in str(refused.value)


def test_an_unknown_kind_is_permanent(connector: SquareConnector) -> None:
    with pytest.raises(PermanentError, match=r"member\.tags"):
        connector.deliver(OutboundMessage("member.tags", "k", {}))


def test_more_than_500_changes_are_refused(connector: SquareConnector) -> None:
    with pytest.raises(PermanentError, match="changes"):
        connector.deliver(loyalty(*[change(None)] * 501))


def test_a_till_edit_between_two_deliveries_is_not_undone_beyond_the_changed_fields(
    sandbox: SandboxServer, connect: Callable[..., SquareConnector]
) -> None:
    customer_id = sandbox.record_ids("customers")[4]
    sandbox.state.update_customer(customer_id, note="ギフト包装希望")
    connect().deliver(profile(customer_id, ["email"]))
    assert sandbox.state.record("customers", customer_id)["note"] == "ギフト包装希望"
