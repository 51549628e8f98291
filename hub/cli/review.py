"""``hub review``: the queue of possible duplicates, for a supervisor to accept (merge) or reject."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from core.identity.review import ReviewQueue
from hub.cli.common import cli_actor, console, opened_hub
from hub.runtime import Hub

app = typer.Typer(help="Review possible duplicate members.", no_args_is_help=True)

Note = Annotated[str, typer.Option("--note", help="Why (kept with the decision).")]


@app.command("list")
def list_items(
    status: Annotated[str, typer.Option(help="open, accepted, rejected, obsolete or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    after: Annotated[int | None, typer.Option(help="List items after this item number.")] = None,
) -> None:
    """List queued pairs, oldest first; no personal data, only the kind of evidence."""
    with opened_hub() as hub:
        items = _queue(hub).items(status=None if status == "all" else status, limit=limit, after_id=after)
    table = Table(title=f"review queue ({status})")
    for column in ("#", "queued (UTC)", "evidence", "member", "candidate", "source", "status", "decided by"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item.id), f"{item.created_at:%Y-%m-%d %H:%M}", item.evidence, str(item.member_id),
            str(item.candidate_id), item.source or "", item.status, item.decided_by or "",
        )  # fmt: skip
    console.print(table)


@app.command("accept")
def accept(item: Annotated[int, typer.Argument(help="Review item number.")], note: Note = "") -> None:
    """Merge the pair: the older member survives, everything of both is kept."""
    with opened_hub() as hub:
        merge_id = _queue(hub).accept(item, actor=cli_actor(), note=note)
    console.print(f"review item #{item} accepted: merge #{merge_id}")


@app.command("reject")
def reject(item: Annotated[int, typer.Argument(help="Review item number.")], note: Note = "") -> None:
    """Record that the pair are different people; they are never proposed or merged automatically again."""
    with opened_hub() as hub:
        _queue(hub).reject(item, actor=cli_actor(), note=note)
    console.print(f"review item #{item} rejected")


def _queue(hub: Hub) -> ReviewQueue:
    return ReviewQueue(hub.engine, hub.merges)
