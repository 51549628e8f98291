"""Member statuses pushed to the helpdesk and mailer, and notices of points about to expire: changes only, once."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from urllib.parse import quote
from uuid import UUID

import pytest
from sqlalchemy import select

from core.loyalty import LoyaltyEngine
from core.loyalty.expiry_notices import expiring_points
from core.members.numbers import looks_like_member_number
from core.store.models import MemberStatusPush, OutboxMessage
from core.sync.payloads import PayloadSealer
from tests.core.loyalty.conftest import T0, make_rules, purchase

STATUS = {"destinations": ["pos"]}
NOTICE = {"days": 30, "destinations": ["pos"]}
SEGMENTS = [{"code": "big", "name_ja": "高額", "name_en": "Big spenders", "spend_min": 100_000}]


@pytest.fixture
def outbox(loyalty_kit) -> PayloadSealer:
    sealer = PayloadSealer(loyalty_kit.engine, loyalty_kit.directory.sealer.ring, "outbox")
    rules = make_rules(member_status=STATUS, expiry_notice=NOTICE, segments=SEGMENTS)
    loyalty_kit.loyalty = LoyaltyEngine(rules, loyalty_kit.clock, outbox=sealer)
    return sealer


def messages(kit, sealer: PayloadSealer, kind: str) -> list[dict]:
    with kit.engine.connect() as conn:
        query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        rows = conn.execute(query).all()
    return [json.loads(sealer.open(r.payload_ct, owner=quote(r.idempotency_key, safe=""))) for r in rows]


def push(kit, now):
    with kit.engine.begin() as conn:
        kit.loyalty.run_rfm(conn, now)
        kit.loyalty.run_segments(conn, now)
        return kit.loyalty.run_member_status(conn, now, kit.directory.sealer)


def notices(kit, now) -> int:
    with kit.engine.begin() as conn:
        return kit.loyalty.run_expiry_notices(conn, now, kit.directory.sealer)


def test_every_linked_member_is_told_once_with_number_rank_points_and_segments(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "p1", 120_000), purchase("r2", "p2", 3_000)])
    now = T0 + timedelta(days=1)

    outcome = push(loyalty_kit, now)

    (message,) = messages(loyalty_kit, outbox, "member.loyalty")
    by_customer = {change["customer_id"]: change for change in message["changes"]}
    big, small = by_customer["p1"], by_customer["p2"]
    assert (outcome.members, outcome.changes, outcome.messages) == (2, 2, 1)
    assert big["member_id"] == str(loyalty_kit.member("p1"))
    assert looks_like_member_number(big["member_number"])
    assert (big["rank"], big["points_available"], big["points_pending"]) == ("silver", 1_200, 0)
    assert big["segments"] == ["big"]
    assert big["expiring_points"] == 1_200 and big["expiring_at"].startswith("2027-04-01")
    assert (small["rank"], small["points_available"], small["segments"]) == ("regular", 30, [])


def test_a_second_run_writes_nothing_and_a_new_purchase_sends_only_that_member(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "p1", 10_000), purchase("r2", "p2", 3_000)])
    push(loyalty_kit, T0 + timedelta(days=1))

    again = push(loyalty_kit, T0 + timedelta(days=1, hours=1))
    loyalty_kit.ingest([purchase("r3", "p2", 5_000, T0 + timedelta(days=2))])
    later = push(loyalty_kit, T0 + timedelta(days=3))

    assert (again.changes, again.messages) == (0, 0)
    assert (later.changes, later.messages) == (1, 1)
    changes = messages(loyalty_kit, outbox, "member.loyalty")[-1]["changes"]
    assert [(c["customer_id"], c["points_available"]) for c in changes] == [("p2", 80)]


def test_the_stored_digest_is_of_what_was_told_so_an_upgrade_re_sends_nothing(loyalty_kit, outbox):
    """The digest is that of the status told and the sorted customer ids, as JSON with sorted keys: a faster way
    of computing it must give the same bytes, or the night after an upgrade would re-send every status."""
    loyalty_kit.ingest([purchase("r1", "p1", 120_000), purchase("r2", "p2", 3_000)])
    now = T0 + timedelta(days=1)

    push(loyalty_kit, now)

    (message,) = messages(loyalty_kit, outbox, "member.loyalty")
    told = {}
    for change in message["changes"]:
        status = {
            key: value for key, value in change.items() if key not in ("member_id", "customer_id", "member_number")
        }
        text = json.dumps([status, [change["customer_id"]]], sort_keys=True, separators=(",", ":"))
        told[UUID(change["member_id"])] = hashlib.blake2b(text.encode(), digest_size=16).digest()
    with loyalty_kit.engine.connect() as conn:
        stored = {row.member_id: bytes(row.digest) for row in conn.execute(select(MemberStatusPush))}
    assert stored == told and len(told) == 2


def test_a_redemption_changes_the_status_and_pending_points_are_told_apart(loyalty_kit, outbox):
    loyalty_kit.use_rules(make_rules(member_status=STATUS, earning={"points_per_yen": "0.01", "pending_days": 30}))
    loyalty_kit.loyalty = LoyaltyEngine(loyalty_kit.loyalty.rules, loyalty_kit.clock, outbox=outbox)
    loyalty_kit.ingest([purchase("r1", "p1", 10_000), purchase("r2", "p1", 20_000, T0 + timedelta(days=40))])
    loyalty_kit.clock.now = T0 + timedelta(days=41)
    with loyalty_kit.engine.begin() as conn:
        loyalty_kit.loyalty.run_expiry(conn, loyalty_kit.clock.now)  # releases the first purchase's points
    push(loyalty_kit, loyalty_kit.clock.now)
    loyalty_kit.redeem("p1", 60, "till:1")
    push(loyalty_kit, T0 + timedelta(days=42))

    first, second = (m["changes"][0] for m in messages(loyalty_kit, outbox, "member.loyalty"))
    assert (first["points_available"], first["points_pending"]) == (100, 200)
    assert (second["points_available"], second["points_pending"]) == (40, 200)
    balance = loyalty_kit.balance("p1")
    assert (balance.available, balance.pending) == (40, 200)


def test_points_expiring_within_the_window_are_noticed_once_per_expiry(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "p1", 10_000), purchase("r2", "p2", 5_000, T0 + timedelta(days=100))])
    expiry = T0 + timedelta(days=366)
    before_window = expiry - timedelta(days=31)

    assert notices(loyalty_kit, before_window) == 0
    assert notices(loyalty_kit, expiry - timedelta(days=29)) == 1
    assert notices(loyalty_kit, expiry - timedelta(days=2)) == 0  # told already

    (notice,) = messages(loyalty_kit, outbox, "points.expiring")
    assert (notice["customer_id"], notice["points"], notice["notice_days"]) == ("p1", 100, 30)
    assert looks_like_member_number(notice["member_number"])
    with loyalty_kit.engine.connect() as conn:
        listed = expiring_points(conn, expiry - timedelta(days=29), 30)
    assert [(item.member_id, item.points) for item in listed] == [(loyalty_kit.member("p1"), 100)]


def test_points_already_spent_or_lapsed_are_not_noticed(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "p1", 10_000), purchase("r2", "p2", 10_000)])
    loyalty_kit.clock.now = T0 + timedelta(days=10)
    loyalty_kit.redeem("p1", 100, "till:all")
    expiry = T0 + timedelta(days=366)

    assert notices(loyalty_kit, expiry - timedelta(days=5)) == 1  # p2 only
    assert notices(loyalty_kit, expiry + timedelta(days=1)) == 0  # lapsed: nothing left to warn of
    (notice,) = messages(loyalty_kit, outbox, "points.expiring")
    assert notice["customer_id"] == "p2"
