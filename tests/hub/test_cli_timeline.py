"""``hub members timeline`` and the summary of ``hub members show``, through the real command."""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import UUID

import pytest
from sqlalchemy import select

from core.store.audit import AUDIT
from hub.runtime import Hub, open_hub
from hub.settings import load_settings
from tests.core.members.history import History, at

pytestmark = pytest.mark.slow


@pytest.fixture
def hub(hub_cli, monkeypatch) -> Iterator[Hub]:
    """The CLI's hub opened in this process too, to write history rows the CLI then reads."""
    hub_cli("init")
    for name in ("HUB_HOME", "HUB_KEY_FILE"):
        monkeypatch.setenv(name, hub_cli.env[name])
    opened = open_hub(load_settings())
    yield opened
    opened.close()


@pytest.fixture
def merged_pair(hub) -> tuple[UUID, UUID]:
    """A member and a second one merged into it, each with some history."""
    history = History(hub.members)
    root, merged = history.member("山田 花子"), history.member("山田 はなこ")
    history.merge(merged, into=root)
    purchase = history.purchase(root, at(0), 4_800, store_code="SHIBUYA")
    history.adjustment(purchase, at(30), 800)
    history.inquiry(merged, at(60), subject="配送について", messages=["まだ届きません"], channel="email")
    history.points(root, at(90), 48, expires_at=at(60 * 24 * 365))
    history.rank(merged, at(120), "silver", from_rank="bronze")
    return root, merged


def _number(hub: Hub, member_id: UUID) -> str:
    number = hub.members.get(member_id).member_number
    assert number is not None
    return number


def test_timeline_of_a_merged_member_shows_the_clusters_history_decrypted(hub_cli, hub, merged_pair):
    _, merged = merged_pair

    shown = hub_cli("members", "timeline", _number(hub, merged)).stdout

    kinds = re.findall(r"│ (rank_change|points|inquiry|refund|purchase)\s", shown)
    assert kinds == ["rank_change", "points", "inquiry", "refund", "purchase"]
    assert "配送について" in shown and "まだ届きません" in shown and "¥4,800" in shown
    assert "[open]" in shown  # stored values are printed as they are, never read as rich markup
    assert "(end of timeline)" in shown


def test_timeline_pages_with_the_printed_cursor_and_filters_by_kind_and_channel(hub_cli, hub, merged_pair):
    root, _ = merged_pair
    number = _number(hub, root)

    first = hub_cli("members", "timeline", number, "--limit", "2").stdout
    cursor = re.search(r"--cursor (\S+)", first).group(1)
    rest = hub_cli("members", "timeline", number, "--cursor", cursor, "--limit", "5").stdout
    filtered = hub_cli("members", "timeline", number, "--kind", "purchase", "--kind", "inquiry", "--channel", "email")

    assert "rank_change" in first and "points" in first and "inquiry" not in first
    assert "inquiry" in rest and "purchase" in rest and "rank_change" not in rest
    assert "inquiry" in filtered.stdout and "purchase" not in filtered.stdout


def test_timeline_access_is_audited(hub_cli, hub, merged_pair):
    root, _ = merged_pair

    hub_cli("members", "timeline", str(root), "--purpose", "call 1234")

    with hub.engine.connect() as conn:
        actions = conn.execute(select(AUDIT.c.action, AUDIT.c.member_id, AUDIT.c.purpose)).all()
    assert ("timeline", root, "call 1234") in actions


def test_a_malformed_cursor_is_one_clear_line(hub_cli, hub, merged_pair):
    root, _ = merged_pair

    result = hub_cli("members", "timeline", str(root), "--cursor", "nonsense", ok=False)

    assert result.returncode == 2
    assert "timeline cursor is malformed" in result.stderr and "Traceback" not in result.stderr


def test_show_prints_the_summary_of_the_cluster_and_why(hub_cli, hub, merged_pair):
    _, merged = merged_pair

    shown = hub_cli("members", "show", _number(hub, merged)).stdout

    assert "山田 花子" in shown and _number(hub, merged) in shown
    assert re.search(r"rank\s+│ silver since .*spend_12m >= 50000 \(rule 2026\.1\)", shown)
    assert re.search(r"points\s+│ 48 available, 0 pending; 48 expire", shown)
    assert "¥4,000 lifetime" in shown and re.search(r"open inquiries\s+│ 1", shown)
    assert "why this balance" in shown and "+48" in shown
