"""Merged members share one account and one rank; an unmerge splits them by what their lots still hold."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.identity.claims import SourceRanking
from core.identity.service import MemberMerges
from core.members.audit import Actor
from tests.core.loyalty.conftest import T0, purchase

SUPERVISOR = Actor("sato", "supervisor")


@pytest.fixture
def merges(loyalty_kit) -> MemberMerges:
    ranking = SourceRanking(("console",))
    return MemberMerges(
        loyalty_kit.engine, loyalty_kit.directory, ranking, loyalty_kit.published.extend, loyalty_kit.loyalty
    )


def merge(kit, merges, survivor: str, merged: str) -> int:
    """Merge through the service, which settles points and ranks in the merge's transaction."""
    return merges.merge(kit.member(survivor), kit.member(merged), actor=SUPERVISOR, reason="same customer")


def unmerge(kit, merges, merged: str) -> None:
    merges.unmerge(kit.member(merged), actor=SUPERVISOR, reason="two people")


def test_a_merged_cluster_has_one_balance(loyalty_kit, merges):
    loyalty_kit.ingest([purchase("r1", "a", 3_000), purchase("r2", "b", 2_000)])

    merge(loyalty_kit, merges, "a", "b")

    assert loyalty_kit.balance("a").available == loyalty_kit.balance("b").available == 50
    assert loyalty_kit.balance("b").member_id == loyalty_kit.member("a")


def test_a_redemption_by_a_merged_member_is_written_on_the_root_and_spends_the_whole_cluster(loyalty_kit, merges):
    loyalty_kit.ingest([purchase("r1", "a", 3_000), purchase("r2", "b", 2_000)])
    merge(loyalty_kit, merges, "a", "b")

    loyalty_kit.redeem("b", 45, "pos:redeem:1")

    [redemption] = [e for e in loyalty_kit.ledger() if e.kind == "redeem"]
    assert redemption.member_id == loyalty_kit.member("a")
    assert loyalty_kit.balance("a").available == 5


def test_a_merge_whose_combined_spend_qualifies_upgrades_the_cluster(loyalty_kit, merges):
    loyalty_kit.ingest([purchase("r1", "a", 30_000), purchase("r2", "b", 20_000)])

    merge(loyalty_kit, merges, "a", "b")

    assert loyalty_kit.rank("a") == "silver"
    assert loyalty_kit.rank_history("a")[-1].reason == "recompute: 50,000 yen spent in 12 months"
    published = [type(event).__name__ for event in loyalty_kit.published]
    assert published[-2:] == ["MemberMerged", "RankChanged"]  # the merge, then what it caused


def test_a_purchase_of_a_merged_member_earns_at_the_cluster_rank(loyalty_kit, merges):
    loyalty_kit.ingest([purchase("r1", "a", 30_000), purchase("r2", "b", 20_000)])
    merge(loyalty_kit, merges, "a", "b")

    loyalty_kit.ingest([purchase("r3", "b", 1_000, T0 + timedelta(hours=1))])

    assert [(e.rank_code, e.points) for e in loyalty_kit.ledger("b")][-1] == ("silver", 15)


def test_an_unmerge_leaves_each_member_what_its_own_lots_still_hold(loyalty_kit, merges):
    loyalty_kit.ingest([purchase("r1", "a", 1_000), purchase("r2", "b", 5_000, T0 - timedelta(days=1))])
    merge(loyalty_kit, merges, "a", "b")
    loyalty_kit.redeem("a", 30, "pos:redeem:1")  # spends b's lot first: it lapses a day earlier

    unmerge(loyalty_kit, merges, "b")

    assert (loyalty_kit.balance("a").total, loyalty_kit.balance("b").total) == (10, 20)
    with loyalty_kit.engine.begin() as conn:
        assert loyalty_kit.loyalty.recompute(conn, verify=True).differences == []
