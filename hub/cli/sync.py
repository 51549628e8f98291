"""``hub connectors``, ``hub sync``, ``hub runs``, ``hub deadletters`` and ``hub outbox``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Row

from core.errors import ConfigError
from core.members.audit import DEAD_LETTER_VIEW, record_member_access
from core.store import sync as repo
from core.sync.dead_letters import open_payload
from core.sync.engine import RunReport
from core.sync.replay import replay_dead_letter
from hub.cli.common import cli_actor, console, opened_hub
from hub.runtime import Hub
from hub.workers.collector import collect_less_often
from hub.workers.priority import lower_sync_priority

connectors_app = typer.Typer(help="Configured connector instances.", no_args_is_help=True)
deadletters_app = typer.Typer(help="Quarantined records.", no_args_is_help=True)
outbox_app = typer.Typer(help="Outbound changes waiting for their destinations.", no_args_is_help=True)


@connectors_app.command("list")
def list_connectors() -> None:
    """Installed connector types and the instances configured in hub.toml."""
    with opened_hub() as hub:
        registry = hub.registry
        types = Table(title="connector types")
        for column in ("type", "streams", "description"):
            types.add_column(column)
        for name, connector_type in sorted(registry.types.items()):
            streams = ", ".join(spec.name for spec in connector_type.streams)
            types.add_row(name, streams, connector_type.description)
        instances = Table(title=f"instances ({hub.settings.config_file})")
        for column in ("instance", "type", "enabled", "schedule", "deadline"):
            instances.add_column(column)
        for name, instance in sorted(registry.instances.items()):
            schedule = instance.schedule or "-"
            instances.add_row(name, instance.type, str(instance.enabled), schedule, f"{instance.deadline_s:g}s")
    console.print(types)
    console.print(instances)


@connectors_app.command("check")
def check(instance: Annotated[str | None, typer.Argument(help="One instance; all when omitted.")] = None) -> None:
    """Test credentials and reachability of connector instances (each in its own process)."""
    with opened_hub() as hub:
        names = [instance] if instance else sorted(hub.registry.instances)
        results = {name: hub.sync.check(name) for name in names}
    table = Table(title="connector checks")
    table.add_column("instance")
    table.add_column("ok")
    table.add_column("message")
    for name, result in results.items():
        table.add_row(name, "[green]yes[/]" if result.ok else "[red]no[/]", result.message)
    console.print(table)
    if not all(result.ok for result in results.values()):
        raise typer.Exit(1)


def sync(
    instance: Annotated[str | None, typer.Argument(help="One instance; every enabled one when omitted.")] = None,
    stream: Annotated[str | None, typer.Option(help="One stream of the instance.")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Re-read everything (backfill lane).")] = False,
    slices: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="With --full-refresh: split each stream into up to N slices read in parallel."
        ),
    ] = 1,
    queue: Annotated[
        bool, typer.Option("--queue", help="Send the runs to the workers (hub worker) instead of running them here.")
    ] = False,
) -> None:
    """Sync connector streams into the hub and print a summary."""
    if slices > 1 and not full_refresh:
        raise ConfigError("--slices splits a backfill: use it with --full-refresh")
    with opened_hub() as hub:
        jobs = _jobs(hub, instance, stream)
        if queue:
            _send_to_workers(jobs, full_refresh=full_refresh, slices=slices)
            return
        lower_sync_priority(hub.config.sync)
        collect_less_often()
        reports = sync_with_progress(hub, jobs, full_refresh=full_refresh, slices=slices)
    console.print(summary_table(reports, title="sync summary"))
    if any(report.status in ("failed", "partial") for report in reports):
        raise typer.Exit(1)


def sync_with_progress(
    hub: Hub, jobs: list[tuple[str, str]], *, full_refresh: bool = False, slices: int = 1
) -> list[RunReport]:
    """Run sync jobs (each connector in its own process) under a progress bar; slices count as jobs."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(f"syncing {len(jobs)} stream(s)", total=None if slices > 1 else len(jobs))

        def advance(_: RunReport) -> None:
            bar.advance(task)

        if slices > 1:
            return hub.sync.run_backfills(jobs, slices=slices, on_report=advance)
        return hub.sync.run_many(jobs, full_refresh=full_refresh, on_report=advance)


def runs(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    connector: Annotated[str | None, typer.Option(help="Only this instance.")] = None,
) -> None:
    """The most recent sync runs."""
    with opened_hub() as hub, hub.engine.connect() as conn:
        rows = repo.recent_runs(conn, limit=limit, connector=connector)
    console.print(_runs_table([_row_values(row) for row in rows], title="recent runs"))


@deadletters_app.command("list")
def list_dead_letters(
    status: Annotated[str, typer.Option(help="pending, replayed or discarded")] = "pending",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Quarantined records (without their payload)."""
    with opened_hub() as hub, hub.engine.connect() as conn:
        rows = repo.list_dead_letters(conn, status=status, limit=limit)
    table = Table(title=f"{len(rows)} {status} dead letter(s)")
    for column in ("id", "connector", "stream", "external id", "error", "reason", "when"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.connector,
            row.stream,
            row.external_id or "",
            row.error_class,
            row.reason,
            f"{row.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@deadletters_app.command("show")
def show_dead_letter(dead_letter_id: Annotated[int, typer.Argument(help="Dead letter id.")]) -> None:
    """A dead letter with its decrypted payload; the access is written to the audit log."""
    with opened_hub() as hub:
        with hub.engine.connect() as conn:
            row = repo.get_dead_letter(conn, dead_letter_id)
        if row is None:
            raise ConfigError(f"no dead letter with id {dead_letter_id}")
        payload = open_payload(hub.dead_letters, row)
        record_member_access(hub.engine, cli_actor(), DEAD_LETTER_VIEW, None, detail={"dead_letter": row.id})
    console.print(f"[bold]{row.connector}/{row.stream}[/] {row.external_id or ''} — {row.error_class}: {row.reason}")
    console.print_json(json.dumps(payload, ensure_ascii=False))


@deadletters_app.command("replay")
def replay(dead_letter_id: Annotated[int, typer.Argument(help="Dead letter id.")]) -> None:
    """Map or validate a quarantined record again and store it if it now passes."""
    with opened_hub() as hub:
        outcome = replay_dead_letter(
            hub.engine, hub.dead_letters, hub.sink, hub.registry, dead_letter_id, datetime.now(UTC), publish=hub.publish
        )
    if outcome.stored:
        console.print(f"dead letter {dead_letter_id} replayed: record stored")
    else:
        console.print(f"[yellow]dead letter {dead_letter_id} still refused:[/] {outcome.reason}")
        raise typer.Exit(1)


@outbox_app.command("status")
def outbox_status() -> None:
    """Messages per destination and status."""
    with opened_hub() as hub, hub.engine.connect() as conn:
        counts = repo.outbox_counts(conn)
    table = Table(title="outbox")
    for column in ("destination", "pending", "delivered", "failed"):
        table.add_column(column)
    for destination in sorted({destination for destination, _ in counts}):
        table.add_row(destination, *(str(counts.get((destination, s), 0)) for s in ("pending", "delivered", "failed")))
    console.print(table)


def _send_to_workers(jobs: list[tuple[str, str]], *, full_refresh: bool, slices: int) -> None:
    """Queue the jobs on the broker; a sliced backfill is planned by the worker that takes it, then fanned out."""
    from hub.workers.tasks import backfill, sync_stream  # here: other commands need no broker client

    for name, stream in jobs:
        if full_refresh and slices > 1:
            sent = backfill.delay(name, slices=slices, stream=stream)
        else:
            sent = sync_stream.delay(name, stream, full_refresh=full_refresh)
        console.print(f"queued {name}/{stream}: task {sent.id}")


def _jobs(hub: Hub, instance: str | None, stream: str | None) -> list[tuple[str, str]]:
    names = [instance] if instance else [n for n, cfg in sorted(hub.registry.instances.items()) if cfg.enabled]
    jobs: list[tuple[str, str]] = []
    for name in names:
        declared = hub.registry.stream_names(name)
        if stream and stream not in declared:
            raise ConfigError(f"connector {name!r} has no stream {stream!r} (streams: {', '.join(declared)})")
        jobs.extend((name, s) for s in ([stream] if stream else declared))
    return jobs


def summary_table(reports: list[RunReport], *, title: str) -> Table:
    """One row per run report."""
    return _runs_table([_report_row(report) for report in reports], title=title)


def _report_row(report: RunReport) -> tuple[str, ...]:
    return (
        report.connector,
        report.stream,
        report.lane,
        report.status,
        str(report.records_read),
        str(report.records_written),
        str(report.records_quarantined),
        report.error_class or "",
    )


def _row_values(row: Row[Any]) -> tuple[str, ...]:
    return (
        row.connector,
        row.stream,
        row.lane,
        row.status,
        str(row.records_read),
        str(row.records_written),
        str(row.records_quarantined),
        row.error_class or "",
        f"{row.started_at:%m-%d %H:%M:%S}",
    )


def _runs_table(rows: list[tuple[str, ...]], *, title: str) -> Table:
    table = Table(title=title)
    columns = ("connector", "stream", "lane", "status", "read", "written", "quarantined", "error", "started")
    for column in columns[: len(rows[0]) if rows else len(columns)]:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table
