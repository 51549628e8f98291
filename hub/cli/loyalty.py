"""``hub loyalty``: balances, redemptions and adjustments, the scheduled jobs, and recompute.

The rules come from ``HUB_LOYALTY_RULES``, else ``$HUB_HOME/loyalty.toml``, else the shipped example.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.events import DomainEvent
from core.loyalty import LoyaltyEngine, load_rules, rules_file
from core.loyalty.periods import JST
from core.plugins.manager import build_plugin_manager, publish_events
from core.store.database import read_only
from hub.cli.common import cli_actor, console, opened_hub, resolve_member
from hub.runtime import Hub

app = typer.Typer(
    help="Points and ranks: balances, redemptions, adjustments, jobs and recompute.", no_args_is_help=True
)

Member = Annotated[str, typer.Argument(help="Member id or member number (any member of a merged cluster).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept on the ledger entry).")]
SourceEvent = Annotated[
    str | None,
    typer.Option("--source-event", help="Idempotency key: the same key never moves points twice (default: new)."),
]


@app.command("balance")
def balance(member: Member) -> None:
    """Show the points of the member's cluster: spendable, pending, next expiry, and the rank."""
    with opened_hub() as hub:
        loyalty = loyalty_engine(hub)
        target = resolve_member(hub, member)
        with read_only(hub.engine).begin() as conn:
            points = loyalty.balance(conn, target.id)
        root = hub.members.get(points.member_id)
    rank = loyalty.rules.rank(root.rank_code)
    table = Table(title=f"points of {root.member_number}", show_header=False)
    table.add_row("rank", f"{rank.name_ja} ({rank.name_en})")
    table.add_row("spendable", f"{points.available:,}")
    table.add_row("pending (return window)", f"{points.pending:,}")
    if points.next_expiry is not None:
        table.add_row("next expiry", f"{points.expiring:,} on {points.next_expiry.astimezone(JST):%Y-%m-%d %H:%M} JST")
    if points.lapsed:
        table.add_row("lapsed, not yet written off", f"{points.lapsed:,}")
    console.print(table)


@app.command("redeem")
def redeem(
    member: Member,
    points: Annotated[int, typer.Argument(help="Points to spend.", min=1)],
    reason: Reason,
    source_event: SourceEvent = None,
) -> None:
    """Spend points; refused, with the balance, if fewer are spendable."""
    with opened_hub() as hub:
        loyalty = loyalty_engine(hub)
        target = resolve_member(hub, member)
        with hub.engine.begin() as conn:
            moved = loyalty.redeem(conn, target.id, points, reason, source_event or _new_source_event("redeem"))
        _publish(hub, moved.events)
    done = "already recorded" if moved.replayed else "redeemed"
    console.print(f"{done}: {points:,} points ({moved.source_event}); spendable now {moved.balance.available:,}")


@app.command("adjust")
def adjust(
    member: Member,
    points: Annotated[int, typer.Argument(help="Points to credit; negative to debit (write -- before it).")],
    reason: Reason,
    source_event: SourceEvent = None,
) -> None:
    """Credit or debit points by hand; a debit is refused beyond the spendable balance."""
    with opened_hub() as hub:
        loyalty = loyalty_engine(hub)
        target = resolve_member(hub, member)
        with hub.engine.begin() as conn:
            moved = loyalty.adjust(conn, target.id, points, reason, source_event or _new_source_event("adjust"))
        _publish(hub, moved.events)
    done = "already recorded" if moved.replayed else "adjusted"
    console.print(f"{done}: {points:+,} points ({moved.source_event}); spendable now {moved.balance.available:,}")


@app.command("run-jobs")
def run_jobs() -> None:
    """Run the loyalty jobs now: lapse expired points, release pending ones, and close a rank period if one ended."""
    with opened_hub() as hub:
        loyalty = loyalty_engine(hub)
        now = datetime.now(UTC)
        started = time.perf_counter()
        with hub.engine.begin() as conn:
            expiry = loyalty.run_expiry(conn, now)
        expiry_s = time.perf_counter() - started
        with hub.engine.begin() as conn:
            period = loyalty.run_rank_period_end(conn, now)
        period_s = time.perf_counter() - started - expiry_s
        _publish(hub, [*expiry.events, *period.events])
    console.print(f"expiry: {expiry.entries:,} lots written off ({expiry_s:.1f} s)")
    console.print(f"rank period end: {period.rank_changes:,} rank changes ({period_s:.1f} s)")


@app.command("recompute")
def recompute(
    verify: Annotated[bool, typer.Option("--verify", help="Only check; repair nothing.")] = False,
) -> None:
    """Rebuild every balance and rank from the history and report differences (exit code 1 if any)."""
    with opened_hub() as hub:
        loyalty = loyalty_engine(hub)
        with hub.engine.begin() as conn:
            report = loyalty.recompute(conn, verify=verify)
        _publish(hub, report.events)
    console.print(
        f"{report.purchases:,} purchases, {report.clusters:,} clusters checked; "
        f"{report.repaired_entries:,} entries and {report.repaired_ranks:,} ranks repaired; "
        f"{report.other_rule_versions:,} entries earned under other rule versions"
    )
    if not report.differences:
        console.print("[green]no differences[/]")
        return
    table = Table(title=f"{len(report.differences)} differences")
    for column in ("what", "reference", "expected", "found"):
        table.add_column(column)
    for difference in report.differences:
        table.add_row(difference.subject, difference.reference, difference.expected, difference.found)
    console.print(table)
    raise typer.Exit(1)


def loyalty_engine(hub: Hub) -> LoyaltyEngine:
    """The loyalty engine under the hub's rules file, on the wall clock."""
    configured = os.environ.get("HUB_LOYALTY_RULES")
    path = rules_file(Path(configured).expanduser() if configured else None, hub.settings.home)
    return LoyaltyEngine(load_rules(path), lambda: datetime.now(UTC))


def _new_source_event(kind: str) -> str:
    return f"{cli_actor().name}:{kind}:{uuid.uuid4().hex}"


def _publish(hub: Hub, events: Iterable[DomainEvent]) -> None:
    publish_events(build_plugin_manager(extra_plugins=hub.extra_plugins), events)
