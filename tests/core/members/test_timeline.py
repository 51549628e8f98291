"""The unified timeline: every kind, every source and every merged member, newest first, a page at a time."""

from __future__ import annotations

import base64

import pytest

from core.errors import InvalidInputError, MemberNotFoundError
from core.ids import new_id
from core.members.timeline import (
    KINDS,
    AdjustmentEntry,
    ConsentEntry,
    CouponEntry,
    InquiryEntry,
    MemberTimeline,
    PointsEntry,
    PurchaseEntry,
    RankChangeEntry,
    SurveyEntry,
    decode_cursor,
    encode_cursor,
    member_cluster,
)
from tests.core.members.history import History, at


@pytest.fixture
def history(directory) -> History:
    return History(directory)


@pytest.fixture
def timeline(directory) -> MemberTimeline:
    return MemberTimeline(directory.engine, directory.sealer)


def _every_kind(history: History, member):
    """One entry of each kind, a minute apart, in the order of ``KINDS``."""
    purchase = history.purchase(member, at(0), 5_000)
    history.adjustment(purchase, at(1), 1_000, kind="refund")
    history.adjustment(history.purchase(member, at(-10), 900, channel="online"), at(2), 900, kind="cancel")
    history.inquiry(member, at(3), subject="届かない")
    history.points(member, at(4), 50)
    history.rank(member, at(5), "silver", from_rank="bronze")
    history.survey(member, at(6), free_text="満足")
    history.coupon(member, at(7), used=at(8))
    history.consent(member, at(9), "email", True)


def test_every_kind_appears_newest_first(history, timeline):
    member = history.member()
    _every_kind(history, member)

    entries = timeline.page(member).entries

    assert [entry.kind for entry in entries] == [*reversed(KINDS), "purchase"]
    assert [entry.occurred_at for entry in entries] == sorted((entry.occurred_at for entry in entries), reverse=True)
    types = [ConsentEntry, CouponEntry, CouponEntry, SurveyEntry, RankChangeEntry, PointsEntry, InquiryEntry]
    assert [type(entry) for entry in entries[:7]] == types
    assert [type(entry) for entry in entries[7:]] == [AdjustmentEntry, AdjustmentEntry, PurchaseEntry, PurchaseEntry]


def test_a_refund_carries_its_purchase_member_channel_and_receipt(history, timeline):
    member = history.member()
    purchase = history.purchase(member, at(0), 5_000, channel="online", store_code="WEB")
    history.adjustment(purchase, at(30), 1_200)

    refund, bought = timeline.page(member).entries

    assert isinstance(refund, AdjustmentEntry) and isinstance(bought, PurchaseEntry)
    assert (refund.kind, refund.amount, refund.purchase_id, refund.member_id) == ("refund", 1_200, purchase, member)
    assert (refund.channel, refund.store_code, refund.purchase_external_id) == ("online", "WEB", bought.external_id)


def test_entries_from_two_sources_interleave_by_time(history, timeline):
    member = history.member()
    history.purchase(member, at(0), source="pos")
    history.purchase(member, at(10), source="shopify", channel="online")
    history.purchase(member, at(20), source="pos")

    entries = timeline.page(member).entries

    assert [(entry.source, entry.channel) for entry in entries] == [
        ("pos", "store"), ("shopify", "online"), ("pos", "store"),
    ]  # fmt: skip


def test_any_member_of_a_merged_cluster_gives_the_whole_cluster(history, timeline):
    root, merged, merged_further = history.member(), history.member("山田 はなこ"), history.member("ヤマダ ハナコ")
    history.purchase(root, at(0))
    history.inquiry(merged, at(10), subject="返品したい")
    history.points(merged_further, at(20), 30)
    history.merge(merged, into=root)
    history.merge(merged_further, into=merged)

    pages = [timeline.page(member).entries for member in (root, merged, merged_further)]

    assert pages[0] == pages[1] == pages[2]
    assert [(entry.kind, entry.member_id) for entry in pages[0]] == [
        ("points", merged_further), ("inquiry", merged), ("purchase", root),
    ]  # fmt: skip


def test_the_cluster_lists_its_root_first_then_each_level_of_merged_members_by_id(history, directory):
    root, merged = history.member(), history.member("山田 はなこ")
    further = sorted(history.member("ヤマダ ハナコ") for _ in range(3))
    history.merge(merged, into=root)
    for member in further:
        history.merge(member, into=merged)

    with directory.engine.connect() as conn:
        clusters = [member_cluster(conn, member) for member in (root, merged, further[-1])]
        unknown = new_id()
        alone = member_cluster(conn, unknown)

    assert clusters[0] == clusters[1] == clusters[2] == [root, merged, *further]
    assert alone == [unknown]


def test_kind_filter_keeps_only_those_kinds(history, timeline):
    member = history.member()
    _every_kind(history, member)

    entries = timeline.page(member, kinds=["refund", "coupon_used", "points"]).entries

    assert [entry.kind for entry in entries] == ["coupon_used", "points", "refund"]


def test_channel_filter_keeps_only_entries_on_those_channels(history, timeline):
    member = history.member()
    history.purchase(member, at(0), channel="store")
    history.purchase(member, at(1), channel="online")
    history.inquiry(member, at(2), channel="email")
    history.inquiry(member, at(3), channel="phone")
    history.consent(member, at(4), "email", False)
    history.consent(member, at(5), "sms", True)
    history.points(member, at(6), 10)

    entries = timeline.page(member, channels=["email", "online"]).entries

    assert [(entry.kind, entry.channel) for entry in entries] == [
        ("consent", "email"), ("inquiry", "email"), ("purchase", "online"),
    ]  # fmt: skip


def test_kind_and_channel_filters_combine(history, timeline):
    member = history.member()
    history.purchase(member, at(0), channel="online")
    history.inquiry(member, at(1), channel="email")
    history.consent(member, at(2), "email", True)

    entries = timeline.page(member, kinds=["inquiry", "purchase"], channels=["email"]).entries

    assert [(entry.kind, entry.channel) for entry in entries] == [("inquiry", "email")]


def test_cursor_pagination_walks_every_entry_exactly_once_with_ties(history, timeline):
    member, other = history.member(), history.member("佐藤 一郎")
    history.merge(other, into=member)
    for owner in (member, other):  # many entries at the same instants, of the same and of different kinds
        for minute in (0, 0, 0, 5, 5):
            history.purchase(owner, at(minute))
            history.points(owner, at(minute), 1)
            history.consent(owner, at(minute), "sms", True)
        history.coupon(owner, at(0), used=at(5))
    everything = timeline.page(member, limit=200).entries
    assert len(everything) == 34

    for size in (1, 2, 3, 7, 34):
        walked, cursor = [], None
        while True:
            page = timeline.page(member, limit=size, cursor=cursor)
            walked.extend(page.entries)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert walked == list(everything), size


def test_the_last_page_has_no_next_cursor(history, timeline):
    member = history.member()
    history.purchase(member, at(0))
    history.purchase(member, at(1))

    first = timeline.page(member, limit=1)
    last = timeline.page(member, limit=1, cursor=first.next_cursor)

    assert first.next_cursor is not None and len(last.entries) == 1 and last.next_cursor is None


def test_a_cursor_is_url_safe_and_round_trips(history, timeline):
    member = history.member()
    history.purchase(member, at(0))
    entry = timeline.page(member).entries[0]

    cursor = encode_cursor(entry)

    assert cursor.replace("-", "").replace("_", "").isalnum()
    key = decode_cursor(cursor)
    assert (key.occurred_at, key.kind, key.entry_id) == (entry.occurred_at, entry.kind, entry.entry_id)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor!",
        "x" * 500,
        _b64("[1, 2]"),
        _b64('["2026-06-01T09:00:00+00:00", "purchase"]'),
        _b64('["2026-06-01T09:00:00", "purchase", 1]'),
        _b64('["yesterday", "purchase", 1]'),
        _b64('["2026-06-01T09:00:00+00:00", "lottery", 1]'),
        _b64('["2026-06-01T09:00:00+00:00", "purchase", -1]'),
        _b64('["2026-06-01T09:00:00+00:00", "purchase", "1"]'),
        _b64('{"at": 1}'),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_malformed_cursor_is_refused_with_a_clear_message(cursor):
    with pytest.raises(InvalidInputError, match="timeline cursor is malformed"):
        decode_cursor(cursor)


def test_a_page_asked_with_a_malformed_cursor_is_invalid_input(history, timeline):
    member = history.member()

    with pytest.raises(InvalidInputError, match="timeline cursor is malformed"):
        timeline.page(member, cursor="garbage")


def test_inquiry_subject_and_messages_are_decrypted_with_their_own_members_key(history, timeline):
    root, merged = history.member(), history.member("山田 はなこ")
    history.merge(merged, into=root)
    history.inquiry(merged, at(0), subject="配送について", messages=["まだ届きません", "追跡番号を教えてください"])
    history.inquiry(root, at(60), subject="ポイント", messages=["残高は？"])

    newer, older = timeline.page(root).entries

    assert isinstance(newer, InquiryEntry) and isinstance(older, InquiryEntry)
    assert (newer.subject, [m.body for m in newer.messages]) == ("ポイント", ["残高は？"])
    thread = ["まだ届きません", "追跡番号を教えてください"]
    assert (older.subject, [m.body for m in older.messages]) == ("配送について", thread)
    assert [m.sent_at for m in older.messages] == sorted(m.sent_at for m in older.messages)


def test_each_page_carries_the_threads_of_its_own_inquiries_only(history, timeline):
    member = history.member()
    history.inquiry(member, at(0), subject="古い", messages=["一通目", "二通目"])
    history.inquiry(member, at(60), subject="新しい", messages=["三通目"])

    first = timeline.page(member, limit=1)
    second = timeline.page(member, limit=1, cursor=first.next_cursor)

    assert [[m.body for m in entry.messages] for entry in first.entries] == [["三通目"]]
    assert [[m.body for m in entry.messages] for entry in second.entries] == [["一通目", "二通目"]]


def test_survey_free_text_is_decrypted(history, timeline):
    member = history.member()
    history.survey(member, at(0), score=9, free_text="店員さんが親切でした")

    (survey,) = timeline.page(member).entries

    assert isinstance(survey, SurveyEntry)
    assert (survey.survey_code, survey.score, survey.free_text) == ("nps", 9, "店員さんが親切でした")


def test_an_erased_members_text_comes_back_empty_but_the_entry_stays(history, timeline, directory):
    member = history.member()
    history.inquiry(member, at(0), subject="解約したい", messages=["お願いします"])
    directory.erase(member)

    (inquiry,) = timeline.page(member).entries

    assert isinstance(inquiry, InquiryEntry)
    assert inquiry.subject is None and [m.body for m in inquiry.messages] == [None]


def test_loyalty_entries_carry_their_rule_and_have_no_source(history, timeline):
    member = history.member()
    history.points(member, at(0), 120, status="pending", expires_at=at(60 * 24 * 365))
    history.rank(member, at(1), "gold", from_rank="silver")

    rank, points = timeline.page(member).entries

    assert isinstance(rank, RankChangeEntry) and isinstance(points, PointsEntry)
    assert (rank.from_rank, rank.to_rank, rank.rule_version, rank.source) == ("silver", "gold", "2026.1", None)
    assert (points.ledger_kind, points.points, points.status, points.expires_at) == (
        "earn", 120, "pending", at(60 * 24 * 365),
    )  # fmt: skip


def test_an_unknown_member_is_not_found(timeline):
    with pytest.raises(MemberNotFoundError):
        timeline.page(new_id())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": 0}, "1 to 200 entries"),
        ({"limit": 201}, "1 to 200 entries"),
        ({"kinds": ["lottery"]}, "unknown timeline kind"),
        ({"channels": ["fax"]}, "unknown timeline channel"),
    ],
)
def test_bad_page_arguments_are_refused(history, timeline, arguments, message):
    member = history.member()

    with pytest.raises(InvalidInputError, match=message):
        timeline.page(member, **arguments)
