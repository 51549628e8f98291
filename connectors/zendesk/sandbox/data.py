"""A deterministic Zendesk account: the town's people who called or wrote, their tickets and comment threads.

The end-users are a subset of the town's persons ``1..people`` (``connectors.town``), written as an agent typed
them on the phone: the name with or without a space (now and then in katakana), the phone dashed, in E.164 or
bare digits (a landline for people without a mobile), the email often missing. Tickets follow the topics of
``topics``; a phone ticket starts with the agent's call notes. Times are UTC with whole seconds, as Zendesk
writes them. Rows share an ``updated_at`` on purpose: now and then two in one second, and once a burst of
``BURST`` rows (a macro applied to many at once), longer than a test page.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from connectors import town
from connectors.town import pick, unit
from connectors.zendesk.sandbox.topics import AGENTS, PRODUCTS, STORES, TOPICS

EPOCH = datetime(2025, 6, 1, 0, 30, tzinfo=UTC)
SPAN_S = 150 * 24 * 3600
BURST = 13
USER_ID_BASE = 381_000_000_000
AGENT_ID_BASE = 380_000_000_000
API_USER_ID = AGENT_ID_BASE
TICKET_ID_BASE = 1000
COMMENT_ID_BASE = 29_000_000_000_000
CATEGORY_FIELD_ID = 360_001_234_567
_KIND = "zendesk"
# Zendesk Talk, email, the web form and chat, as a Japanese retailer's call center receives them.
_CHANNELS = (("voice", 0.45), ("email", 0.75), ("web", 0.9), ("chat", 1.0))
_STATUSES = (("new", 0.08), ("open", 0.26), ("pending", 0.4), ("hold", 0.45), ("solved", 0.8), ("closed", 0.96))


def iso(moment: datetime) -> str:
    """Zendesk's timestamps: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def _account(users: int, tickets: int, people: int, seed: int) -> dict[str, Any]:
    numbers = _callers(users, people, seed)
    end_users = [_user(seed, n, moment) for n, moment in zip(numbers, _timeline(seed, "users", users), strict=True)]
    account: dict[str, Any] = {"users": _burst([*_agents(), *end_users], skip=len(AGENTS) + 1), "comments": {}}
    # solved_at of a solved ticket is its metric set's; the generator solves a ticket at its last change.
    account["tickets"] = [
        _ticket(seed, index, moment, end_users, account["comments"])
        for index, moment in enumerate(_timeline(seed, "tickets", tickets), start=1)
    ]
    account["tickets"] = _burst(account["tickets"], skip=0)
    return account


def generate_account(*, users: int, tickets: int, people: int, seed: int) -> dict[str, Any]:
    """``{"users": [...], "tickets": [...], "comments": {ticket id: [...]}}``; a fresh copy on every call.

    A solved or closed ticket was solved at its ``updated_at`` (its metric set says so, ``SandboxState``).
    """
    return copy.deepcopy(_account(users, tickets, max(people, users), seed))


def _callers(users: int, people: int, seed: int) -> list[int]:
    """Which persons of the town have a Zendesk user: ``users`` of ``1..people``, fixed by the seed."""
    ranked = sorted(range(1, people + 1), key=lambda n: unit(seed, _KIND, n, "caller"))
    return sorted(ranked[:users])


def _timeline(seed: int, kind: str, count: int) -> list[datetime]:
    step = max(60, SPAN_S // max(count, 1))
    moments: list[datetime] = []
    for index in range(1, count + 1):
        if moments and unit(seed, kind, index, "tie") < 0.15:
            moments.append(moments[-1])
        else:
            moments.append(EPOCH + timedelta(seconds=index * step + pick(seed, kind, index, "jitter", step // 2)))
    return moments


def _burst(rows: list[dict[str, Any]], *, skip: int) -> list[dict[str, Any]]:
    """``BURST`` rows from a third of the way on get one ``updated_at``, later than theirs: a bulk update."""
    start = skip + (len(rows) - skip) // 3
    burst = rows[start : start + BURST]
    if len(rows) - skip > BURST:
        moment = max(datetime.fromisoformat(row["updated_at"]) for row in burst) + timedelta(minutes=5)
        for row in burst:
            row["updated_at"] = iso(moment)
    return rows


def _agents() -> list[dict[str, Any]]:
    staff = [("MemberHub 連携", "memberhub.api"), *AGENTS]
    return [
        {"id": AGENT_ID_BASE + k, "name": name, "email": f"{box}@callcenter.example.jp", "phone": None,
         "role": "admin" if k == 0 else "agent", "verified": True, "external_id": None, "tags": [],
         "user_fields": {}, "active": True, "locale": "ja", "time_zone": "Asia/Tokyo",
         "created_at": iso(EPOCH), "updated_at": iso(EPOCH)}
        for k, (name, box) in enumerate(staff)
    ]  # fmt: skip


def _user(seed: int, number: int, created: datetime) -> dict[str, Any]:
    someone = town.person(seed, number)
    edited = unit(seed, _KIND, number, "edited") < 0.25
    updated = created + timedelta(days=1 + pick(seed, _KIND, number, "edit-days", 20)) if edited else created
    email = someone.email if unit(seed, _KIND, number, "asked-email") < 0.65 else None
    return {
        "id": USER_ID_BASE + number, "name": _typed_name(seed, someone), "email": email,
        "phone": _typed_phone(seed, someone), "role": "end-user",
        "verified": email is not None and unit(seed, _KIND, number, "verified") < 0.5,
        "external_id": None, "tags": [], "user_fields": {"member_rank": None, "member_points": None},
        "active": True, "locale": "ja", "time_zone": "Asia/Tokyo",
        "created_at": iso(created), "updated_at": iso(updated),
    }  # fmt: skip


def _typed_name(seed: int, someone: town.Person) -> str:
    roll = unit(seed, _KIND, someone.number, "name-form")
    if roll < 0.5:
        return f"{someone.last_name} {someone.first_name}"
    if roll < 0.9:
        return someone.full_name
    return f"{someone.last_kana} {someone.first_kana}"


def _typed_phone(seed: int, someone: town.Person) -> str | None:
    roll = unit(seed, _KIND, someone.number, "phone-form")
    if someone.mobile is None:
        if roll < 0.3:
            return None
        area = ("03", "06", "052", "011")[pick(seed, _KIND, someone.number, "area", 4)]
        first = 1000 + pick(seed, _KIND, someone.number, "l1", 9000)
        local = f"{first}-{pick(seed, _KIND, someone.number, 'l2', 10000):04d}"
        return f"{area}-{local}" if len(area) == 2 else f"{area}-{local[1:]}"
    if roll < 0.6:
        return someone.mobile_dashed
    return someone.mobile_e164 if roll < 0.8 else someone.mobile


def _ticket(
    seed: int, index: int, created: datetime, users: list[dict[str, Any]], threads: dict[int, list[Any]]
) -> dict[str, Any]:
    ticket_id = TICKET_ID_BASE + index
    requester = users[pick(seed, "tickets", index, "requester", len(users))] if users else None
    topic = TOPICS[pick(seed, "tickets", index, "topic", len(TOPICS))]
    channel = _choice(seed, index, "channel", _CHANNELS)
    status = _choice(seed, index, "status", _STATUSES, default="deleted")
    requester_id = requester["id"] if requester else API_USER_ID
    agent_id = AGENT_ID_BASE + 1 + pick(seed, "tickets", index, "agent", len(AGENTS))
    comments = _thread(seed, index, topic, channel, status, created, requester, requester_id, agent_id)
    threads[ticket_id] = comments
    last = datetime.fromisoformat(comments[-1]["created_at"])
    updated = last + timedelta(minutes=5 + pick(seed, "tickets", index, "settle", 600))
    return {
        "id": ticket_id, "external_id": None, "subject": topic.subject, "description": comments[0]["body"],
        "status": status, "priority": "normal", "type": "question", "requester_id": requester_id,
        "submitter_id": agent_id if channel == "voice" else requester_id,
        "assignee_id": None if status == "new" else agent_id, "via": {"channel": channel},
        "tags": [f"category_{topic.category}"],
        "custom_fields": [{"id": CATEGORY_FIELD_ID, "value": topic.category}],
        "created_at": iso(created), "updated_at": iso(updated),
    }  # fmt: skip


def _thread(
    seed: int, index: int, topic: Any, channel: str, status: str, created: datetime,
    requester: dict[str, Any] | None, requester_id: int, agent_id: int,
) -> list[dict[str, Any]]:  # fmt: skip
    fill = _fill(seed, index, requester)
    turns = [(False, topic.call_notes), *topic.turns[1:]] if channel == "voice" else list(topic.turns)
    count = 1 if status == "new" else len(turns) if status in ("solved", "closed") else max(2, len(turns) - 1)
    moment, comments = created, []
    for k, (by_member, text) in enumerate(turns[:count]):
        comments.append({
            "id": COMMENT_ID_BASE + index * 100 + k, "type": "Comment",
            "author_id": requester_id if by_member else agent_id, "body": text.format(**fill),
            "public": not (channel == "voice" and k == 0), "created_at": iso(moment),
        })  # fmt: skip
        moment += timedelta(minutes=20 + pick(seed, "tickets", index, f"gap{k}", 600))
    return comments


def _fill(seed: int, index: int, requester: dict[str, Any] | None) -> dict[str, str]:
    day = EPOCH + timedelta(days=pick(seed, "tickets", index, "day", 150))
    return {
        "name": town.person(seed, requester["id"] - USER_ID_BASE).last_name if requester else "お客",
        "product": PRODUCTS[pick(seed, "tickets", index, "product", len(PRODUCTS))],
        "order": f"#{1001 + pick(seed, 'tickets', index, 'order', 9000)}",
        "store": STORES[pick(seed, "tickets", index, "store", len(STORES))],
        "date": f"{day.month}月{day.day}日",
        "points": str(50 * (1 + pick(seed, "tickets", index, "points", 20))),
    }


def _choice(seed: int, index: int, salt: str, weights: tuple[tuple[str, float], ...], default: str = "") -> str:
    roll = unit(seed, "tickets", index, salt)
    return next((value for value, upto in weights if roll < upto), default or weights[-1][0])
