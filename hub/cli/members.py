"""``hub members``: add, show, search and erase members."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.table import Table

from core.errors import InvalidInputError, MemberNotFoundError
from core.members.audit import record_member_access
from core.members.masking import format_phone, mask_email, mask_phone
from core.members.numbers import looks_like_member_number
from core.members.profile import Member, MemberProfile, parse_birthday
from hub.cli.common import cli_actor, console, opened_hub
from hub.runtime import Hub

app = typer.Typer(help="Add, show, search and erase members.", no_args_is_help=True)


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="Full name in kanji (or as written).")],
    kana: Annotated[str | None, typer.Option(help="Reading in kana.")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option(help="Any Japanese notation, e.g. 090-1234-5678.")] = None,
    birthday: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    postal_code: Annotated[str | None, typer.Option(help="e.g. 100-0001")] = None,
    address: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a member; their personal data is encrypted before it is stored."""
    profile = MemberProfile(
        name=name,
        kana=kana,
        email=email,
        phone=phone,
        postal_code=postal_code,
        address=address,
        birthday=parse_birthday(birthday) if birthday else None,
    )
    with opened_hub() as hub:
        member = hub.members.add(profile)
    console.print(f"added member [bold]{member.member_number}[/] (id {member.id})")


@app.command("show")
def show(
    member: Annotated[str, typer.Argument(help="Member id or member number.")],
    purpose: Annotated[str, typer.Option(help="Why you open this member (audited).")] = "cli",
) -> None:
    """Show one member's personal data; the opening is written to the audit log."""
    with opened_hub() as hub:
        found = _resolve(hub, member)
        record_member_access(hub.engine, cli_actor(), "open", found.id, purpose=purpose)
    console.print(_detail_table(found))


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Phone, email, member number or exact name/kana.")],
) -> None:
    """Find members; contact details are masked in the result list."""
    with opened_hub() as hub:
        found = hub.members.find(query)
        record_member_access(hub.engine, cli_actor(), "search", None, detail={"results": len(found)})
    console.print(member_list_table(found, title=f"{len(found)} member(s) found"))


@app.command("erase")
def erase(
    member: Annotated[str, typer.Argument(help="Member id or member number.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a member for good (crypto-shredding); purchases stay as anonymous amounts."""
    with opened_hub() as hub:
        found = _resolve(hub, member)
        if not yes:
            typer.confirm(f"Erase member {found.member_number} for good?", abort=True)
        hub.members.erase(found.id)
        record_member_access(hub.engine, cli_actor(), "erase", found.id, purpose="erasure request")
    console.print(f"member {found.id} erased")


def member_list_table(members: list[Member], *, title: str) -> Table:
    """One row per member with masked email and phone."""
    table = Table(title=title)
    for column in ("member number", "name", "kana", "email", "phone"):
        table.add_column(column)
    for member in members:
        profile = member.profile
        if profile is None:
            continue
        table.add_row(
            member.member_number,
            profile.name,
            profile.kana or "",
            mask_email(profile.email) if profile.email else "",
            mask_phone(profile.phone) if profile.phone else "",
        )
    return table


def _detail_table(member: Member) -> Table:
    table = Table(show_header=False, title=f"member {member.member_number or member.id}")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("id", str(member.id))
    table.add_row("status", member.status)
    profile = member.profile
    if profile is not None:
        table.add_row("name", profile.name)
        table.add_row("kana", profile.kana or "")
        table.add_row("email", profile.email or "")
        table.add_row("phone", format_phone(profile.phone) if profile.phone else "")
        table.add_row("postal code", profile.postal_code or "")
        table.add_row("address", profile.address or "")
        table.add_row("birthday", profile.birthday.isoformat() if profile.birthday else "")
    table.add_row("rank", member.rank_code or "")
    table.add_row("member since", member.created_at.date().isoformat())
    return table


def _resolve(hub: Hub, reference: str) -> Member:
    if looks_like_member_number(reference):
        found = hub.members.find_by("member_number", reference)
        if not found:
            raise MemberNotFoundError("no member with that member number")
        return found[0]
    try:
        return hub.members.get(UUID(reference))
    except ValueError:
        raise InvalidInputError("give a member id (UUID) or a 12-digit member number") from None
