"""``hub loyalty``: balances, redemptions and adjustments, coupons, the nightly jobs, recompute, rules changes.

The rules come from ``HUB_LOYALTY_RULES``, else ``$HUB_HOME/loyalty.toml``, else the shipped example.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from core.loyalty import LoyaltyEngine, PointsMovement, load_rules
from core.loyalty.expiry_notices import expiring_points
from core.loyalty.periods import JST
from core.loyalty.rule_change import RuleChangeReport, preview_rules
from core.store.database import read_only
from hub.cli.common import cli_actor, console, opened_hub
from hub.runtime import Hub
from hub.workers.collector import collect_less_often

app = typer.Typer(
    help="Points and ranks: balances, redemptions, adjustments, jobs and recompute.", no_args_is_help=True
)

rules_app = typer.Typer(help="Rules changes: a dry run (diff) and applying new rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

NewRules = Annotated[Path, typer.Argument(help="The new rules file (loyalty.toml).", exists=True, dir_okay=False)]
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
        loyalty = hub.loyalty
        target = hub.members.resolve(member)
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
    moved = _move_points(member, "redeem", points, reason, source_event)
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
    moved = _move_points(member, "adjust", points, reason, source_event)
    done = "already recorded" if moved.replayed else "adjusted"
    console.print(f"{done}: {points:+,} points ({moved.source_event}); spendable now {moved.balance.available:,}")


@app.command("coupons")
def coupons(member: Member) -> None:
    """List the coupons of the member's cluster: code, value, uses, validity and status, newest first."""
    with opened_hub() as hub:
        loyalty = hub.loyalty
        target = hub.members.resolve(member)
        with read_only(hub.engine).begin() as conn:
            held = loyalty.coupons(conn, target.id)
        root = hub.members.get(held.member_id)
    if not held.coupons:
        console.print(f"no coupons for {root.member_number}")
        return
    table = Table(title=f"coupons of {root.member_number}")
    for column in ("code", "coupon", "value", "uses", "issued (JST)", "valid until (JST)", "status"):
        table.add_column(column)
    for coupon in held.coupons:
        table.add_row(
            coupon.code,
            _coupon_name(loyalty, coupon.template_code, coupon.kind),
            f"{coupon.value}%" if coupon.value_type == "percent" else f"{coupon.value:,} yen",
            f"{coupon.uses}/{coupon.max_uses}",
            f"{coupon.issued_at.astimezone(JST):%Y-%m-%d %H:%M}",
            f"{coupon.expires_at.astimezone(JST):%Y-%m-%d %H:%M}" if coupon.expires_at else "-",
            coupon.status,
        )
    console.print(table)


@app.command("expiring")
def expiring(
    days: Annotated[int, typer.Option("--days", min=1, max=365, help="How far ahead to look.")] = 30,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows to show at most.")] = 50,
) -> None:
    """List the members whose points expire within ``--days``, soonest first (sends nothing)."""
    with opened_hub() as hub:
        with read_only(hub.engine).begin() as conn:
            due = expiring_points(conn, hub.loyalty.clock(), days)
        rows: list[tuple[str, ...]] = [
            (hub.members.get(item.member_id).member_number or "-", f"{item.points:,}",
             f"{item.expires_at.astimezone(JST):%Y-%m-%d %H:%M}")
            for item in due[:limit]
        ]  # fmt: skip
    if not due:
        console.print(f"no points expire within {days} days")
        return
    console.print(f"{len(due):,} expiries, {sum(item.points for item in due):,} points within {days} days")
    _print_rows("expiring points", ("member", "points", "expires (JST)"), rows, limit)
    if len(due) > limit:
        console.print(f"… and {len(due) - limit:,} more")


@app.command("run-jobs")
def run_jobs() -> None:
    """Run the nightly loyalty jobs now: expiry and its notices, rank period end, birthdays, RFM, segments, statuses."""
    collect_less_often()
    with opened_hub() as hub:
        _warn_unknown_destinations(hub, hub.loyalty)
        runs = hub.run_loyalty_jobs()
    for run in runs:
        console.print(f"{run.name}: {escape(run.summary)} ({run.seconds:.1f} s)")


@app.command("recompute")
def recompute(
    verify: Annotated[bool, typer.Option("--verify", help="Only check; repair nothing.")] = False,
) -> None:
    """Rebuild every balance and rank from the history and report differences (exit code 1 if any)."""
    collect_less_often()
    with opened_hub() as hub:
        loyalty = hub.loyalty
        with hub.engine.begin() as conn:
            report = loyalty.recompute(conn, verify=verify)
        hub.publish(report.events)
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


@rules_app.command("diff")
def rules_diff(
    new: NewRules,
    limit: Annotated[int, typer.Option("--limit", help="Members listed per table at most.", min=1)] = 50,
) -> None:
    """Show what applying a new rules file would change (ranks, balances), writing nothing."""
    with opened_hub() as hub:
        loyalty = hub.loyalty
        report = preview_rules(hub.engine, loyalty.rules, load_rules(new), loyalty.clock())
    console.print(f"rules {report.from_version} → {report.to_version}: dry run, nothing was written")
    _print_rule_change(report, limit)


@rules_app.command("apply")
def rules_apply(
    new: NewRules,
    limit: Annotated[int, typer.Option("--limit", help="Members listed per table at most.", min=1)] = 50,
) -> None:
    """Put a new rules file in force: recompute under it (never earning twice), then make it the hub's rules file."""
    with opened_hub() as hub:
        loyalty = hub.loyalty
        rules = load_rules(new)
        with hub.engine.begin() as conn:
            report = loyalty.apply_rules(conn, rules)
        hub.publish(report.events)
        target = _active_rules_path(hub)
        if target.resolve() != new.resolve():
            _replace_file(target, new.read_text(encoding="utf-8"))
    console.print(f"rules {report.from_version} → {report.to_version}: applied; the hub now reads {target}")
    _print_rule_change(report, limit)


def _print_rule_change(report: RuleChangeReport, limit: int) -> None:
    console.print(
        f"{len(report.rank_changes):,} rank changes now, {len(report.due_downgrades):,} downgrades due at the "
        f"period end, {len(report.balance_changes):,} balances changed ({report.entries:,} ledger entries)"
    )
    _print_rows(
        "rank changes now", ("member", "from", "to", "reason"),
        [(str(e.member_id), e.from_rank or "-", e.to_rank, e.reason) for e in report.rank_changes], limit,
    )  # fmt: skip
    _print_rows(
        "downgrades due at the end of the rank period", ("member", "rank", "falls to", "measure"),
        [(str(d.member_id), d.rank_code, d.to_rank, f"{d.measure:,}") for d in report.due_downgrades], limit,
    )  # fmt: skip
    changes = sorted(report.balance_changes.items(), key=lambda item: str(item[0]))
    _print_rows("balance changes", ("member", "points"), [(str(m), f"{d:+,}") for m, d in changes], limit)


def _print_rows(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]], limit: int) -> None:
    if not rows:
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows[:limit]:
        table.add_row(*row)
    console.print(table)
    if len(rows) > limit:
        console.print(f"… and {len(rows) - limit:,} more")


def _active_rules_path(hub: Hub) -> Path:
    """Where the hub reads its rules: ``HUB_LOYALTY_RULES``, else ``$HUB_HOME/loyalty.toml`` (never the example)."""
    return hub.settings.loyalty_rules or hub.settings.home / "loyalty.toml"


def _replace_file(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically: a reader sees the old file or the new one, never half of it."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)


def _warn_unknown_destinations(hub: Hub, loyalty: LoyaltyEngine) -> None:
    """Segment and rank destinations must be connector instances of hub.toml, or their messages are never delivered."""
    named = {(d, "segment") for segment in loyalty.rules.segments for d in segment.destinations}
    named |= {(d, "rank") for d in loyalty.rules.ranks.destinations}
    named |= {(d, "expiry notice") for d in loyalty.rules.expiry_notice.destinations}
    named |= {(d, "member status") for d in loyalty.rules.member_status.destinations}
    for destination, what in sorted(named):
        if destination not in hub.config.connectors:
            console.print(f"[yellow]warning:[/] {what} destination {destination!r} is not a connector of hub.toml")


def _coupon_name(loyalty: LoyaltyEngine, template_code: str | None, kind: str) -> str:
    """The template's names, or the coupon's kind if the rules no longer have its template."""
    template = loyalty.rules.coupon_template(template_code) if template_code else None
    return f"{template.name_ja} ({template.name_en})" if template else kind


def _move_points(
    member: str, kind: Literal["redeem", "adjust"], points: int, reason: str, source_event: str | None
) -> PointsMovement:
    """Redeem or adjust points of the member's cluster in one transaction, then publish what moved."""
    with opened_hub() as hub:
        target = hub.members.resolve(member)
        return hub.move_points(target.id, kind, points, reason, source_event or _new_source_event(kind))


def _new_source_event(kind: str) -> str:
    return f"{cli_actor().name}:{kind}:{uuid.uuid4().hex}"
