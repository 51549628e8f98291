"""Segments: membership follows the rules, every change is an event and a batched outbox entry, once."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.events import SegmentChanged
from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.loyalty import LoyaltyEngine
from core.members.audit import Actor
from core.records import ConsentChange
from core.store.models import MemberSegment, OutboxMessage
from core.sync.payloads import PayloadSealer
from tests.core.loyalty.conftest import T0, make_rules, purchase

NOW = T0 + timedelta(days=1)
SEGMENTS = [
    {"code": "online", "name_ja": "オンライン購入者", "name_en": "Online buyers", "channels": ["online"],
     "destinations": ["shop"]},
    {"code": "mail-ok", "name_ja": "メール許諾", "name_en": "Email opt-in", "email_opt_in": True,
     "destinations": ["mail"]},
    {"code": "silver-up", "name_ja": "シルバー以上", "name_en": "Silver and up", "ranks": ["silver", "gold"]},
]  # fmt: skip


@pytest.fixture
def outbox(loyalty_kit) -> PayloadSealer:
    sealer = PayloadSealer(loyalty_kit.engine, loyalty_kit.directory.sealer.ring, "outbox")
    loyalty_kit.loyalty = LoyaltyEngine(make_rules(segments=SEGMENTS), loyalty_kit.clock, outbox=sealer)
    return sealer


def nightly(kit, now=NOW):
    with kit.engine.begin() as conn:
        kit.loyalty.run_rfm(conn, now)
        return kit.loyalty.run_segments(conn, now)


def members_of(kit, code: str) -> set:
    with kit.engine.connect() as conn:
        query = select(MemberSegment.member_id).where(MemberSegment.segment_code == code)
        return set(conn.execute(query).scalars())


def messages(kit, sealer: PayloadSealer) -> list[tuple[str, str, dict]]:
    with kit.engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    opened = [json.loads(sealer.open(r.payload_ct, owner=quote(r.idempotency_key, safe=""))) for r in rows]
    return [(row.destination, row.kind, payload) for row, payload in zip(rows, opened, strict=True)]


def consent(external_id: str, customer: str, subscribed: bool, at=T0) -> ConsentChange:
    return ConsentChange(source="mail", external_id=external_id, source_updated_at=at, customer_external_id=customer,
                         channel="email", subscribed=subscribed, changed_at=at)  # fmt: skip


def test_a_member_who_starts_buying_online_joins_and_the_shop_is_told(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("o1", "s1", 2_000, channel="online", source="shop"), purchase("r1", "p1", 2_000)])

    outcome = nightly(loyalty_kit)

    buyer = loyalty_kit.member("s1", "shop")
    assert members_of(loyalty_kit, "online") == {buyer}
    assert (outcome.members, outcome.joined, outcome.left, outcome.messages) == (2, 1, 0, 1)
    assert outcome.events == (SegmentChanged(NOW, buyer, ("online",), (), ("online",)),)
    assert messages(loyalty_kit, outbox) == [
        ("shop", "member.segments", {"changes": [
            {"member_id": str(buyer), "customer_id": "s1", "segments": ["online"], "joined": ["online"], "left": []},
        ]}),
    ]  # fmt: skip


def test_a_second_run_without_changes_writes_nothing(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("o1", "s1", 2_000, channel="online", source="shop")])
    nightly(loyalty_kit)

    again = nightly(loyalty_kit, NOW + timedelta(days=1))

    assert (again.joined, again.left, again.messages, again.events) == (0, 0, 0, ())
    assert len(messages(loyalty_kit, outbox)) == 1


def test_a_member_whose_online_purchases_leave_the_window_leaves(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("o1", "s1", 2_000, channel="online", source="shop")])
    nightly(loyalty_kit)

    later = nightly(loyalty_kit, T0 + timedelta(days=400))

    buyer = loyalty_kit.member("s1", "shop")
    assert members_of(loyalty_kit, "online") == set()
    assert later.events == (SegmentChanged(later.events[0].occurred_at, buyer, (), ("online",), ()),)
    assert messages(loyalty_kit, outbox)[-1][2]["changes"] == [
        {"member_id": str(buyer), "customer_id": "s1", "segments": [], "joined": [], "left": ["online"]},
    ]


def test_the_newest_email_consent_of_the_cluster_decides(loyalty_kit, outbox):
    loyalty_kit.ingest([consent("e1", "m1", True), consent("e2", "m2", True)])
    loyalty_kit.ingest([consent("e3", "m2", False, T0 + timedelta(hours=1))])

    nightly(loyalty_kit)

    assert members_of(loyalty_kit, "mail-ok") == {loyalty_kit.member("m1", "mail")}
    [(destination, _, payload)] = messages(loyalty_kit, outbox)
    assert destination == "mail" and [c["customer_id"] for c in payload["changes"]] == ["m1"]


def test_rank_conditions_take_a_member_without_a_rank_as_the_lowest(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "rich", 60_000), purchase("r2", "modest", 1_000)])

    nightly(loyalty_kit)

    assert members_of(loyalty_kit, "silver-up") == {loyalty_kit.member("rich")}
    assert messages(loyalty_kit, outbox) == []  # silver-up is pushed nowhere


def test_a_segment_removed_from_the_rules_is_left(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("r1", "rich", 60_000)])
    nightly(loyalty_kit)
    loyalty_kit.loyalty = LoyaltyEngine(make_rules(segments=SEGMENTS[:2]), loyalty_kit.clock, outbox=outbox)

    outcome = nightly(loyalty_kit)

    assert outcome.left == 1 and members_of(loyalty_kit, "silver-up") == set()


def test_changes_are_batched_per_destination(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase(f"o{n}", f"s{n}", 1_000, channel="online", source="shop") for n in range(1_203)])

    outcome = nightly(loyalty_kit)

    sent = messages(loyalty_kit, outbox)
    assert outcome.joined == 1_203 and outcome.messages == 3
    assert [len(payload["changes"]) for _, _, payload in sent] == [500, 500, 203]


def test_a_member_merged_into_another_loses_its_own_memberships_silently(loyalty_kit, outbox):
    loyalty_kit.ingest([purchase("o1", "s1", 2_000, channel="online", source="shop"), purchase("r1", "p1", 2_000)])
    nightly(loyalty_kit)
    merges = MemberMerges(loyalty_kit.engine, loyalty_kit.directory, SourceRanking(("console",)), lambda events: None)
    root, merged = loyalty_kit.member("p1"), loyalty_kit.member("s1", "shop")
    merges.merge(root, merged, actor=Actor("sato", "supervisor"), reason="same customer")

    outcome = nightly(loyalty_kit)

    assert members_of(loyalty_kit, "online") == {root}
    assert outcome.events == (SegmentChanged(NOW, root, ("online",), (), ("online",)),)
    # the cluster's customer id in the shop is the merged member's
    assert messages(loyalty_kit, outbox)[-1][2]["changes"][0]["customer_id"] == "s1"
