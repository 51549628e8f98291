"""``hub keys``: status, online rotation and retirement of key versions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from core.members.keys import (
    key_status,
    reindex_members,
    retire_index_root,
    retire_kek,
    rotate_index_root,
    rotate_kek,
)
from hub.cli.common import console, opened_hub

app = typer.Typer(help="Inspect and rotate encryption keys.", no_args_is_help=True)


@app.command("status")
def status() -> None:
    """Key versions in the ring and how many stored rows use each."""
    with opened_hub() as hub:
        report = key_status(hub.engine, hub.ring)
        provider = hub.key_provider.description
    table = Table(title=f"key ring ({provider})")
    for column in ("key", "version", "primary", "rows using it"):
        table.add_column(column)
    for version in report.kek_versions:
        primary = "yes" if version == report.primary_kek_version else ""
        table.add_row("KEK", str(version), primary, str(report.data_keys_per_kek.get(version, 0)))
    for version in report.index_versions:
        primary = "yes" if version == report.primary_index_version else ""
        table.add_row("index root", str(version), primary, str(report.index_rows_per_version.get(version, 0)))
    console.print(table)
    if report.rotation_pending:
        console.print("[yellow]a KEK rotation is unfinished: run `hub keys rotate` to resume it[/]")


@app.command("rotate")
def rotate(
    index: Annotated[bool, typer.Option("--index", help="Rotate the blind-index root key instead of the KEK.")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = 500,
) -> None:
    """Add a new key version and move every row onto it, online and resumably."""
    with (
        opened_hub() as hub,
        Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} rows")) as bar,
    ):
        task = bar.add_task("re-indexing" if index else "re-wrapping data keys", total=None)

        def advance(done: int) -> None:
            bar.update(task, completed=done)

        if index:
            ring, done = rotate_index_root(
                hub.engine, hub.members, hub.key_provider, batch_size=batch_size, progress=advance
            )
            version = ring.primary_index_version
        else:
            ring, done = rotate_kek(hub.engine, hub.key_provider, batch_size=batch_size, progress=advance)
            version = ring.primary_kek_version
    kind = "index root" if index else "KEK"
    console.print(f"{kind} version {version} is primary; {done} row(s) moved onto it")


@app.command("reindex")
def reindex(batch_size: Annotated[int, typer.Option(min=1)] = 500) -> None:
    """Rebuild every member's blind indexes (after an upgrade that changes how search values are normalised)."""
    with (
        opened_hub() as hub,
        Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} members")) as bar,
    ):
        task = bar.add_task("re-indexing", total=None)
        done = reindex_members(
            hub.engine,
            hub.members,
            hub.key_provider,
            batch_size=batch_size,
            progress=lambda count: bar.update(task, completed=count),
        )
    console.print(f"{done} member(s) re-indexed")


@app.command("retire")
def retire(
    version: Annotated[int, typer.Argument(help="The old key version to remove from the ring.")],
    index: Annotated[bool, typer.Option("--index", help="Retire an index root version instead of a KEK.")] = False,
) -> None:
    """Remove an old key version; refused while any stored row still needs it."""
    with opened_hub() as hub:
        if index:
            retire_index_root(hub.engine, hub.key_provider, version)
        else:
            retire_kek(hub.engine, hub.key_provider, version)
    console.print(f"{'index root' if index else 'KEK'} version {version} retired")
