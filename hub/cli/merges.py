"""``hub members merge|unmerge|merges``: join two members into one, undo it, and list what was done."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import cli_actor, console, opened_hub

Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the merge log and the audit log).")]


def merge(
    survivor: Annotated[str, typer.Argument(help="The member that stays (id or member number).")],
    merged: Annotated[str, typer.Argument(help="The member merged into it (id or member number).")],
    reason: Reason,
) -> None:
    """Merge the second member into the first: every link, purchase and ledger entry is kept."""
    with opened_hub() as hub:
        kept, joined = hub.members.resolve(survivor), hub.members.resolve(merged)
        merge_id = hub.merges.merge(kept.id, joined.id, actor=cli_actor(), reason=reason)
    console.print(f"merged {joined.member_number} into {kept.member_number} (merge #{merge_id})")


def unmerge(
    member: Annotated[str, typer.Argument(help="The merged member to separate again (id or member number).")],
    reason: Reason,
) -> None:
    """Undo the merge that joined this member to another; both are restored as they were."""
    with opened_hub() as hub:
        target = hub.members.resolve(member, follow_merges=False)
        merge_id = hub.merges.unmerge(target.id, actor=cli_actor(), reason=reason)
    console.print(f"merge #{merge_id} undone")


def merges(member: Annotated[str, typer.Argument(help="Member id or member number.")]) -> None:
    """The merges of this member's cluster, undone ones included, oldest first."""
    with opened_hub() as hub:
        entries = hub.merges.history(hub.members.resolve(member).id)
    table = Table(title="merges")
    for column in ("#", "when (UTC)", "kind", "survivor", "merged", "by", "reason", "undone"):
        table.add_column(column)
    for entry in entries:
        undone = f"{entry.undone_at:%Y-%m-%d %H:%M} by {entry.undone_by}" if entry.undone_at else ""
        table.add_row(
            str(entry.id), f"{entry.merged_at:%Y-%m-%d %H:%M}", entry.kind, str(entry.survivor_id),
            str(entry.merged_id), entry.actor, entry.reason, undone,
        )  # fmt: skip
    console.print(table)
