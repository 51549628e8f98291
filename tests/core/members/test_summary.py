"""The member summary: profile, rank, points, spend and contact state of a whole cluster, and why."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from core.errors import MemberNotFoundError
from core.ids import new_id
from core.members.summary import ConsentState, LedgerLine, MemberSummaries, PointBalance, RankStanding, point_balance
from tests.core.members.history import T0, History, at

NOW = T0 + timedelta(days=30)


@pytest.fixture
def history(directory) -> History:
    return History(directory)


@pytest.fixture
def summaries(directory) -> MemberSummaries:
    return MemberSummaries(directory, clock=lambda: NOW, ledger_lines=3)


def test_any_member_of_a_cluster_gives_the_roots_profile_and_the_merged_member_numbers(history, summaries, directory):
    root = history.member("山田 花子", email="hanako@example.jp")
    merged = history.member("山田 はなこ")
    history.merge(merged, into=root)

    summary = summaries.member_summary(merged)

    assert summary.member.id == root and summary.member.profile.email == "hanako@example.jp"
    assert summary.merged_member_numbers == (directory.get(merged).member_number,)


def test_spend_is_purchases_minus_their_refunds_and_leaves_cancelled_ones_out(history, summaries):
    member = history.member()
    refunded = history.purchase(member, at(0), 10_000)
    history.adjustment(refunded, at(60), 2_000)
    cancelled = history.purchase(member, at(10), 5_000, status="cancelled")
    history.adjustment(cancelled, at(20), 5_000, kind="cancel")
    history.purchase(member, at(30), 3_000, source="shopify", channel="online")

    purchases = summaries.member_summary(member).purchases

    assert (purchases.lifetime_spend, purchases.purchase_count) == (11_000, 2)


def test_recent_spend_covers_the_365_days_up_to_now(history, summaries):
    member = history.member()
    history.purchase(member, NOW - timedelta(days=400), 5_000)
    recent = history.purchase(member, NOW - timedelta(days=100), 3_000)
    history.adjustment(recent, NOW - timedelta(days=90), 1_000)

    purchases = summaries.member_summary(member).purchases

    assert (purchases.lifetime_spend, purchases.recent_spend) == (7_000, 2_000)


def test_the_last_purchase_is_the_newest_one_not_cancelled(history, summaries):
    member = history.member()
    history.purchase(member, at(0), 1_500, channel="online", store_code="WEB", source="shopify")
    history.purchase(member, at(10), 9_000, status="cancelled")

    last = summaries.member_summary(member).last_purchase

    assert last is not None
    assert (last.purchased_at, last.channel, last.store_code, last.amount, last.source) == (
        at(0), "online", "WEB", 1_500, "shopify",
    )  # fmt: skip


def test_open_inquiries_count_open_and_pending_ones_of_the_cluster(history, summaries):
    root, merged = history.member(), history.member("佐藤 一郎")
    history.merge(merged, into=root)
    history.inquiry(root, at(0), status="open")
    history.inquiry(merged, at(1), status="pending")
    history.inquiry(root, at(2), status="solved")
    history.inquiry(merged, at(3), status="closed")

    assert summaries.member_summary(root).open_inquiries == 2


def test_the_rank_is_the_newest_change_in_the_cluster_with_its_reason_and_rule(history, summaries):
    root, merged = history.member(), history.member("佐藤 一郎")
    history.merge(merged, into=root)
    history.rank(root, at(0), "silver", from_rank="bronze")
    history.rank(merged, at(10), "gold", from_rank="silver")

    rank = summaries.member_summary(root).rank

    assert rank == RankStanding("gold", at(10), "silver", "spend_12m >= 50000", "2026.1")


def test_points_available_and_pending_are_summed_over_the_cluster(history, summaries):
    root, merged = history.member(), history.member("佐藤 一郎")
    history.merge(merged, into=root)
    history.points(root, at(0), 300)
    history.points(merged, at(1), 200)
    history.points(root, at(2), -150, kind="redeem")
    history.points(merged, at(3), 80, status="pending")

    points = summaries.member_summary(merged).points

    assert (points.available, points.pending) == (350, 80)


def test_the_nearest_expiry_comes_from_the_ledger(history, summaries):
    member = history.member()
    history.points(member, at(0), 100, expires_at=NOW + timedelta(days=10))
    history.points(member, at(1), 50, expires_at=NOW + timedelta(days=40))
    history.points(member, at(2), -120, kind="redeem")

    points = summaries.member_summary(member).points

    assert points == PointBalance(30, 0, NOW + timedelta(days=40), 30)


def test_lots_that_lapsed_unrecorded_are_used_up_first(history, summaries):
    member = history.member()
    history.points(member, at(0), 100, expires_at=NOW - timedelta(days=10))
    history.points(member, at(1), 50, expires_at=NOW + timedelta(days=40))
    history.points(member, at(2), -120, kind="redeem")

    points = summaries.member_summary(member).points

    assert points == PointBalance(30, 0, NOW + timedelta(days=40), 30)


def _totals(*rows: tuple[str, object, int, int]) -> list[SimpleNamespace]:
    """Rows as ``point_totals`` gives them: lots that lapsed before ``NOW`` summed without their date."""
    return [
        SimpleNamespace(status=s, expires_at=None if e and e <= NOW else e, lapsed=bool(e and e <= NOW),
                        credited=c, debited=d)
        for s, e, c, d in rows
    ]  # fmt: skip


def test_spending_uses_up_the_lots_that_expire_first():
    soon, later = NOW + timedelta(days=5), NOW + timedelta(days=60)
    totals = _totals(("available", soon, 100, 0), ("available", later, 70, 0), ("available", None, 0, -40))

    assert point_balance(totals, NOW) == PointBalance(130, 0, soon, 60)


def test_lots_past_their_expiry_are_not_the_next_expiry():
    past, later = NOW - timedelta(days=1), NOW + timedelta(days=60)
    totals = _totals(("available", past, 100, 0), ("available", later, 70, 0))

    assert point_balance(totals, NOW) == PointBalance(170, 0, later, 70)


def test_points_without_an_expiry_never_expire():
    totals = _totals(("available", None, 500, -100), ("pending", None, 40, 0))

    assert point_balance(totals, NOW) == PointBalance(400, 40, None, 0)


def test_the_ledger_explains_the_balance_with_its_newest_entries(history, summaries):
    member = history.member()
    for minute, points in enumerate((10, 20, 30, 40)):
        history.points(member, at(minute), points, rule_version=f"r{minute}")

    ledger = summaries.member_summary(member).ledger

    assert [(line.points, line.rule_version) for line in ledger] == [(40, "r3"), (30, "r2"), (20, "r1")]
    assert all(isinstance(line, LedgerLine) and line.kind == "earn" and line.source_event for line in ledger)


def test_segments_are_those_of_every_member_of_the_cluster_once_each(history, summaries):
    root, merged = history.member(), history.member("佐藤 一郎")
    history.merge(merged, into=root)
    history.segment(root, "vip")
    history.segment(merged, "vip")
    history.segment(merged, "dormant")

    assert summaries.member_summary(root).segments == ("dormant", "vip")


def test_consent_is_the_latest_event_per_channel_across_the_cluster(history, summaries):
    root, merged = history.member(), history.member("佐藤 一郎")
    history.merge(merged, into=root)
    history.consent(root, at(0), "email", True)
    history.consent(merged, at(5), "email", False, source="shopify")
    history.consent(root, at(1), "post", True)

    consent = summaries.member_summary(root).consent

    assert consent == (ConsentState("email", False, at(5), "shopify"), ConsentState("post", True, at(1), "mail"))


def test_a_member_without_history_has_an_empty_summary(history, summaries):
    summary = summaries.member_summary(history.member())

    assert summary.points == PointBalance(0, 0, None, 0)
    assert (summary.purchases.lifetime_spend, summary.purchases.purchase_count, summary.last_purchase) == (0, 0, None)
    assert (summary.open_inquiries, summary.segments, summary.consent, summary.ledger) == (0, (), (), ())
    assert summary.rank == RankStanding(None, None, None, None, None) and summary.merged_member_numbers == ()


def test_an_unknown_member_is_not_found(summaries):
    with pytest.raises(MemberNotFoundError):
        summaries.member_summary(new_id())
