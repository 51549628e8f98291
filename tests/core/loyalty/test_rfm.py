"""RFM scores: quintiles among the clusters that ever bought, ties sharing a score, clusters scored on their root."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.members.audit import Actor
from core.records import Profile
from core.store.models import MemberScore
from tests.core.loyalty.conftest import JST, T0, purchase

NOW = T0 + timedelta(days=10)


def run_rfm(kit, now: datetime = NOW):
    with kit.engine.begin() as conn:
        return kit.loyalty.run_rfm(conn, now)


def scores(kit) -> dict:
    """member id → (recency_days, frequency, monetary, R, F, M)."""
    with kit.engine.connect() as conn:
        rows = conn.execute(select(MemberScore)).all()
    return {
        row.member_id: (row.recency_days, row.frequency, row.monetary, row.recency_score, row.frequency_score,
                        row.monetary_score)
        for row in rows
    }  # fmt: skip


def of(kit, customer: str) -> tuple:
    return scores(kit)[kit.member(customer)]


def test_ten_buyers_fall_two_to_each_quintile(loyalty_kit):
    # customer cN buys N times, for N × 1,000 yen each time, the last time N days before NOW
    loyalty_kit.ingest([
        purchase(f"r{n}-{k}", f"c{n}", n * 1_000, NOW - timedelta(days=n, hours=k))
        for n in range(1, 11) for k in range(n)
    ])  # fmt: skip

    outcome = run_rfm(loyalty_kit)

    assert (outcome.members, outcome.buyers) == (10, 10)
    expected = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 5, 10: 5}
    for n, score in expected.items():
        recency, frequency, monetary, r, f, m = of(loyalty_kit, f"c{n}")
        assert (recency, frequency, monetary) == (n, n, n * n * 1_000)
        assert (f, m) == (score, score)
        assert r == 6 - score  # fewer days since the last purchase scores higher


def test_equal_figures_share_a_score(loyalty_kit):
    # five buy once for 1,000 yen, five buy three times for 1,000 yen: two groups of equals
    loyalty_kit.ingest([purchase(f"a{n}", f"once{n}", 1_000) for n in range(5)])
    loyalty_kit.ingest([purchase(f"b{n}-{k}", f"thrice{n}", 1_000) for n in range(5) for k in range(3)])

    run_rfm(loyalty_kit)

    # ranks 1 and 6 of 10: 1 + 0 × 5 // 10 and 1 + 5 × 5 // 10
    assert {of(loyalty_kit, f"once{n}")[4] for n in range(5)} == {1}
    assert {of(loyalty_kit, f"thrice{n}")[4] for n in range(5)} == {3}
    assert {of(loyalty_kit, f"thrice{n}")[0] for n in range(5)} == {10}  # all bought on one day: one recency


def test_refunds_are_netted_and_cancelled_purchases_do_not_count(loyalty_kit):
    refund = [("f1", "refund", 4_000, T0 + timedelta(days=1))]
    loyalty_kit.ingest([
        purchase("r1", "c1", 10_000, refunds=refund),
        purchase("r2", "c1", 5_000, T0 + timedelta(days=2), status="cancelled"),
        purchase("r3", "c1", 3_000, T0 + timedelta(days=3), refunds=[("f3", "refund", 3_000, T0 + timedelta(days=4))]),
    ])  # fmt: skip

    run_rfm(loyalty_kit)

    recency, frequency, monetary, *_ = of(loyalty_kit, "c1")
    assert (recency, frequency, monetary) == (10, 1, 6_000)


def test_recency_counts_japanese_calendar_days(loyalty_kit):
    # 23:30 JST on 31 March is 14:30 UTC: at 00:30 JST on 1 April it is one day ago in Japan.
    loyalty_kit.ingest([purchase("r1", "c1", 1_000, datetime(2026, 3, 31, 23, 30, tzinfo=JST))])

    run_rfm(loyalty_kit, datetime(2026, 4, 1, 0, 30, tzinfo=JST))

    assert of(loyalty_kit, "c1")[0] == 1


def test_purchases_outside_the_window_count_for_recency_only(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 1_000, NOW - timedelta(days=400))])

    run_rfm(loyalty_kit)

    assert of(loyalty_kit, "c1")[:3] == (400, 0, 0)


def test_a_member_who_never_bought_has_no_recency_and_scores_zero(loyalty_kit):
    loyalty_kit.ingest([Profile(source="pos", external_id="c9", source_updated_at=T0, name="山田 花子")])
    loyalty_kit.ingest([purchase("r1", "c1", 1_000)])

    outcome = run_rfm(loyalty_kit)

    assert (outcome.members, outcome.buyers) == (2, 1)
    assert of(loyalty_kit, "c9") == (None, 0, 0, 0, 0, 0)
    assert of(loyalty_kit, "c1")[3:] == (1, 1, 1)


@pytest.fixture
def merges(loyalty_kit) -> MemberMerges:
    return MemberMerges(loyalty_kit.engine, loyalty_kit.directory, SourceRanking(("console",)), lambda events: None)


def test_a_merged_cluster_is_scored_once_on_its_root(loyalty_kit, merges):
    loyalty_kit.ingest([purchase("r1", "a", 3_000, NOW - timedelta(days=5)), purchase("r2", "b", 2_000)])
    merges.merge(loyalty_kit.member("a"), loyalty_kit.member("b"), actor=Actor("sato", "supervisor"), reason="same")

    run_rfm(loyalty_kit)

    assert set(scores(loyalty_kit)) == {loyalty_kit.member("a")}
    assert of(loyalty_kit, "a")[:3] == (5, 2, 5_000)


def test_running_again_rewrites_the_scores_as_of_the_new_day(loyalty_kit):
    loyalty_kit.ingest([purchase("r1", "c1", 1_000)])
    run_rfm(loyalty_kit)

    run_rfm(loyalty_kit, NOW + timedelta(days=1))

    assert len(scores(loyalty_kit)) == 1
    assert of(loyalty_kit, "c1")[0] == 11
