"""Inquiries logged in the console: stored sealed like synced tickets, sent once to each helpdesk destination.

Real SQLite and PostgreSQL hubs (init_hub), real keys, the real outbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.errors import InvalidInputError
from core.members.inquiries import InquiryLog
from core.members.profile import MemberProfile
from core.members.summary import MemberSummaries
from core.members.timeline import InquiryEntry, MemberTimeline
from core.records import Inquiry, Profile
from core.store import models
from core.store.database import read_only
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings


@pytest.fixture
def hub(db_url: str, tmp_path: Path):
    settings = HubSettings(tmp_path / "data", tmp_path / "keys" / "keyring.json", db_url)
    opened, _ = init_hub(settings)
    yield opened
    opened.close()


def _log(hub: Hub, destinations=("helpdesk",)) -> InquiryLog:
    return InquiryLog(hub.engine, hub.members.sealer, hub.outbox, destinations, clock=hub.members.clock)


def _member(hub: Hub):
    return hub.members.add(MemberProfile(name="山田 花子", phone="090-1234-5678"))


def _outbox(hub: Hub) -> list[tuple[str, str, dict]]:
    table = models.OutboxMessage
    with read_only(hub.engine).connect() as conn:
        rows = conn.execute(select(table).order_by(table.id)).all()
    return [
        (
            row.destination,
            row.kind,
            json.loads(hub.outbox.open(row.payload_ct, owner=quote(row.idempotency_key, safe=""))),
        )
        for row in rows
    ]


def test_a_logged_inquiry_joins_the_timeline_sealed_and_goes_to_the_helpdesk_once(hub):
    member = _member(hub)
    logged = _log(hub, ("helpdesk", "zendesk-2")).log(
        member.id, channel="phone", status="open", body="ポイントが付与されていない", author="operator",
        category="points", subject="ポイント未付与",
    )  # fmt: skip

    [entry] = MemberTimeline(hub.engine, hub.members.sealer).page(member.id, kinds=["inquiry"]).entries
    assert isinstance(entry, InquiryEntry)
    assert (entry.subject, entry.status, entry.channel, entry.source) == ("ポイント未付与", "open", "phone", "console")
    assert [m.body for m in entry.messages] == ["ポイントが付与されていない"]
    with read_only(hub.engine).connect() as conn:
        stored = conn.execute(select(models.Inquiry)).one()
    assert "ポイント".encode() not in stored.subject_ct
    messages = _outbox(hub)
    assert [(d, k) for d, k, _ in messages] == [("helpdesk", "inquiry.logged"), ("zendesk-2", "inquiry.logged")]
    payload = messages[0][2]
    assert payload["inquiry_id"] == logged.id and payload["body"] == "ポイントが付与されていない"
    assert payload["member_id"] == str(member.id) and payload["author"] == "operator"
    assert payload["member_number"] == member.member_number
    assert payload["customer_id"] is None  # the member has no user in the helpdesk yet


def test_updating_adds_a_note_changes_the_status_and_tells_the_helpdesk(hub):
    member = _member(hub)
    inquiries = _log(hub)
    logged = inquiries.log(member.id, channel="email", status="open", body="届かない", author="op1", subject="配送")

    inquiries.update(logged.id, status="solved", note="再送しました", author="op2")

    [entry] = MemberTimeline(hub.engine, hub.members.sealer).page(member.id, kinds=["inquiry"]).entries
    assert isinstance(entry, InquiryEntry)
    assert entry.status == "solved" and entry.subject == "配送" and entry.closed_at is not None
    assert [m.body for m in entry.messages] == ["届かない", "再送しました"]
    assert [k for _, k, _ in _outbox(hub)] == ["inquiry.logged", "inquiry.updated"]


def test_without_helpdesk_destinations_the_inquiry_is_still_stored(hub):
    member = _member(hub)
    _log(hub, ()).log(member.id, channel="chat", status="open", body="質問", author="op")
    assert _outbox(hub) == []
    assert len(MemberTimeline(hub.engine, hub.members.sealer).page(member.id).entries) == 1


def test_a_helpdesk_ticket_cannot_be_changed_from_the_console(hub):
    ticket = Inquiry(
        source="helpdesk", external_id="t-1", source_updated_at="2026-11-01T10:00:00+09:00",
        customer_external_id="cust-1", channel="email", status="open", opened_at="2026-11-01T10:00:00+09:00",
    )  # fmt: skip
    with hub.engine.begin() as conn:
        hub.sink.apply(conn, [ticket])
        ticket_id = conn.execute(select(models.Inquiry.id)).scalar_one()

    with pytest.raises(InvalidInputError, match="belongs to helpdesk"):
        _log(hub).update(ticket_id, status="closed", note="x", author="op")


def test_the_helpdesk_copy_of_a_logged_inquiry_stands_in_for_it_in_the_timeline_and_the_summary(hub):
    member = _member(hub)
    logged = _log(hub).log(member.id, channel="phone", status="open", body="届かない", author="op1", subject="配送")
    now = hub.members.clock()
    caller = Profile(source="helpdesk", external_id="u-9", source_updated_at=now, name="山田 花子",
                     phone="090-1234-5678")  # fmt: skip
    ticket = Inquiry(
        source="helpdesk", external_id="t-77", source_updated_at=now, customer_external_id="u-9", channel="phone",
        status="pending", subject="配送", opened_at=now, console_inquiry=logged.external_id,
    )  # fmt: skip
    with hub.engine.begin() as conn:
        hub.sink.apply(conn, [caller, ticket])

    entries = MemberTimeline(hub.engine, hub.members.sealer).page(member.id, kinds=["inquiry"]).entries
    shown = [(e.source, e.external_id, e.status) for e in entries if isinstance(e, InquiryEntry)]
    assert shown == [("helpdesk", "t-77", "pending")]
    assert MemberSummaries(hub.members).member_summary(member.id).open_inquiries == 1
