"""``hub members``: add, show, search and erase members, and read a member's unified timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from core.members.audit import record_member_access
from core.members.masking import format_phone, mask_email, mask_phone
from core.members.profile import Member, MemberProfile, parse_birthday
from core.members.summary import MemberSummaries, MemberSummary
from core.members.timeline import (
    CHANNELS,
    KINDS,
    MAX_PAGE_SIZE,
    AdjustmentEntry,
    ConsentEntry,
    CouponEntry,
    InquiryEntry,
    MemberTimeline,
    PointsEntry,
    PurchaseEntry,
    RankChangeEntry,
    SurveyEntry,
    TimelineEntry,
)
from hub.cli.common import cli_actor, console, opened_hub

app = typer.Typer(help="Add, show, search and erase members.", no_args_is_help=True)
TOKYO = ZoneInfo("Asia/Tokyo")


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
    """Show a member's personal data and summary (of their whole merged cluster); the opening is audited."""
    with opened_hub() as hub:
        found = hub.members.resolve(member)
        summary = MemberSummaries(hub.members).member_summary(found.id)
        shown = summary.member.id
        detail: dict[str, object] | None = None if shown == found.id else {"requested": str(found.id)}
        record_member_access(hub.engine, cli_actor(), "open", shown, purpose=purpose, detail=detail)
    console.print(_detail_table(summary.member))
    console.print(_summary_table(summary))
    if summary.ledger:
        console.print(_ledger_table(summary))


@app.command("timeline")
def timeline(
    member: Annotated[str, typer.Argument(help="Member id or member number.")],
    kind: Annotated[list[str] | None, typer.Option("--kind", help=f"Only these kinds: {', '.join(KINDS)}.")] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help=f"Only these channels: {', '.join(CHANNELS)}.")
    ] = None,
    limit: Annotated[int, typer.Option(help=f"Entries per page (1-{MAX_PAGE_SIZE}).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="The cursor printed under the previous page.")] = None,
    purpose: Annotated[str, typer.Option(help="Why you open this member (audited).")] = "cli",
) -> None:
    """A member's history from every source and merged member, newest first; the opening is audited."""
    with opened_hub() as hub:
        found = hub.members.resolve(member)
        page = MemberTimeline(hub.engine, hub.members.sealer).page(
            found.id, kinds=kind, channels=channel, limit=limit, cursor=cursor
        )
        record_member_access(hub.engine, cli_actor(), "timeline", found.id, purpose=purpose)
    table = Table(title=f"timeline of member {found.member_number or found.id}")
    for column in ("when (JST)", "kind", "channel", "source", "what"):
        table.add_column(column)
    for entry in page.entries:
        cells = (_local(entry.occurred_at), entry.kind, entry.channel or "", entry.source or "hub", _what(entry))
        table.add_row(*map(Text, cells))  # Text: stored values are never read as rich markup
    console.print(table)
    console.print(f"next page: --cursor {page.next_cursor}" if page.next_cursor else "(end of timeline)")


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
        found = hub.members.resolve(member)
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
    table.add_row("member since", member.created_at.date().isoformat())
    return table


def _summary_table(summary: MemberSummary) -> Table:
    rank, points, purchases, last = summary.rank, summary.points, summary.purchases, summary.last_purchase
    rows = [("merged members", ", ".join(summary.merged_member_numbers))] if summary.merged_member_numbers else []
    since = f" since {_local(rank.since)}: {rank.reason} (rule {rank.rule_version or '-'})" if rank.since else ""
    expiry = f"; {points.expiring_points:,} expire {_local(points.next_expiry)}" if points.next_expiry else ""
    rows += [
        ("rank", f"{rank.code or '-'}{since}"),
        ("points", f"{points.available:,} available, {points.pending:,} pending{expiry}"),
        ("spend", f"¥{purchases.lifetime_spend:,} lifetime, ¥{purchases.recent_spend:,} last 12 months"),
        ("purchases", f"{purchases.purchase_count:,}"),
    ]
    if last is not None:
        where = f"{last.channel} {last.store_code or ''}".strip()
        rows.append(("last purchase", f"{_local(last.purchased_at)} {where} ¥{last.amount:,} ({last.source})"))
    consent = ", ".join(f"{c.channel} {'yes' if c.subscribed else 'no'}" for c in summary.consent)
    rows += [
        ("open inquiries", str(summary.open_inquiries)),
        ("segments", ", ".join(summary.segments) or "-"),
        ("consent", consent or "-"),
    ]
    table = Table(show_header=False, title="summary")
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, Text(value))
    return table


def _ledger_table(summary: MemberSummary) -> Table:
    table = Table(title="why this balance: newest point movements")
    for column in ("when (JST)", "kind", "points", "status", "rule", "event"):
        table.add_column(column)
    for line in summary.ledger:
        cells = (
            _local(line.occurred_at), line.kind, f"{line.points:+,}", line.status, line.rule_version or "-",
            line.source_event,
        )  # fmt: skip
        table.add_row(*map(Text, cells))
    return table


def _what(entry: TimelineEntry) -> str:
    """One line saying what happened (decrypted text included: the caller has opened the member)."""
    match entry:
        case PurchaseEntry():
            return f"¥{entry.amount:,} {entry.status} {entry.store_code or ''} ({entry.external_id})"
        case AdjustmentEntry():
            return f"-¥{entry.amount:,} of {entry.purchase_external_id}"
        case InquiryEntry():
            thread = "".join(f"\n  {m.author_kind}: {m.body or '(erased)'}" for m in entry.messages)
            return f"[{entry.status}] {entry.category or ''} {entry.subject or ''}{thread}"
        case PointsEntry():
            expiry = f", expires {_local(entry.expires_at)}" if entry.expires_at else ""
            return f"{entry.points:+,} {entry.ledger_kind} {entry.status} (rule {entry.rule_version or '-'}){expiry}"
        case RankChangeEntry():
            return f"{entry.from_rank or '-'} → {entry.to_rank}: {entry.reason} (rule {entry.rule_version or '-'})"
        case SurveyEntry():
            score = "-" if entry.score is None else entry.score
            return f"{entry.survey_code} score {score} {entry.free_text or ''}"
        case CouponEntry():
            return f"{entry.code} {entry.coupon_kind} {entry.value}{'%' if entry.value_type == 'percent' else ' yen'}"
        case ConsentEntry():
            return "subscribed" if entry.subscribed else "unsubscribed"
    return ""


def _local(moment: datetime) -> str:
    return moment.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
