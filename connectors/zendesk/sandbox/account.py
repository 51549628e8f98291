"""The account's rows and the cursor-based incremental export over them.

The export orders rows by ``(updated_at, id)`` (a ticket's ``generated_timestamp`` is its ``updated_at`` here)
and its cursor is that position, base64-encoded in the shape Zendesk's own cursors have (``1717200000.0||1042|``).
``start_time`` is inclusive; a cursor continues strictly after its row. Rows changed less than ``delay_s``
seconds before the request are held back, and the page that reaches them says ``end_of_stream``; the cursor
then stays at the last row served, so they come on a later request.
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.zendesk.sandbox.data import API_USER_ID, COMMENT_ID_BASE, generate_account, iso

Position = tuple[int, int]
"""``(updated_at as Unix seconds, id)``."""


class CursorError(ValueError):
    """A cursor this sandbox did not issue."""


def encode_cursor(position: Position) -> str:
    """The opaque ``after_cursor`` of a position."""
    return base64.b64encode(f"{position[0]}.0||{position[1]}|".encode()).decode()


def decode_cursor(text: str) -> Position:
    """The position in a cursor made by ``encode_cursor``."""
    try:
        moment, _, rest = base64.b64decode(text, validate=True).decode().partition("||")
        return int(float(moment)), int(rest.rstrip("|"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise CursorError("cursor is not one this API issued") from None


def epoch(row: dict[str, Any]) -> int:
    """A row's ``updated_at`` in Unix seconds."""
    return int(datetime.fromisoformat(str(row["updated_at"]).replace("Z", "+00:00")).timestamp())


def position_of(row: dict[str, Any]) -> Position:
    """Where a row stands in the export."""
    return epoch(row), int(row["id"])


@dataclass
class Account:
    """Users, tickets, threads, solve times and background jobs of one Zendesk account."""

    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    solved_at: dict[int, str] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_comment_id: int = COMMENT_ID_BASE + 10**9

    @classmethod
    def generated(cls, *, users: int, tickets: int, people: int, seed: int) -> Account:
        """The deterministic account of ``seed``."""
        data = generate_account(users=users, tickets=tickets, people=people, seed=seed)
        account = cls(
            users={row["id"]: row for row in data["users"]},
            tickets={row["id"]: row for row in data["tickets"]},
            comments={int(key): value for key, value in data["comments"].items()},
        )
        for row in account.tickets.values():
            if row["status"] in ("solved", "closed"):
                account.solved_at[row["id"]] = row["updated_at"]
        return account

    def rows(self, resource: str) -> dict[int, dict[str, Any]]:
        """The users or the tickets, by id."""
        return self.users if resource == "users" else self.tickets

    def export(
        self, resource: str, *, after: Position, limit: int, visible_until: float, exclude_deleted: bool = False
    ) -> tuple[list[dict[str, Any]], Position, bool]:
        """Rows strictly after ``after`` and changed by ``visible_until``: the page, its last position, the end."""
        eligible = sorted(
            (row for row in self.rows(resource).values()
             if position_of(row) > after and epoch(row) <= visible_until
             and not (exclude_deleted and row.get("status") == "deleted")),
            key=position_of,
        )  # fmt: skip
        page = copy.deepcopy(eligible[:limit])
        reached = position_of(page[-1]) if page else after
        return page, reached, len(eligible) <= limit

    def metric_set(self, ticket_id: int) -> dict[str, Any]:
        """The side-loaded metric set of a ticket: its solve time and reply count."""
        ticket = self.tickets[ticket_id]
        replies = sum(1 for c in self.comments.get(ticket_id, []) if c["author_id"] != ticket["requester_id"])
        return {"ticket_id": ticket_id, "solved_at": self.solved_at.get(ticket_id), "replies": replies,
                "created_at": ticket["created_at"], "updated_at": ticket["updated_at"]}  # fmt: skip

    def add_comment(self, ticket_id: int, body: str, *, public: bool, at: float, author_id: int = API_USER_ID) -> None:
        """Append a comment to a ticket's thread."""
        self.next_comment_id += 1
        comment = {"id": self.next_comment_id, "type": "Comment", "author_id": author_id, "body": body,
                   "public": public, "created_at": stamp(at)}  # fmt: skip
        self.comments.setdefault(ticket_id, []).append(comment)

    def latest(self, resource: str) -> int:
        """The newest ``updated_at`` of a resource, in Unix seconds."""
        return max((epoch(row) for row in self.rows(resource).values()), default=0)


def stamp(at: float) -> str:
    """Unix seconds as Zendesk writes a timestamp."""
    return iso(datetime.fromtimestamp(int(at), UTC))
