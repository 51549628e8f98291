"""The writes the sandbox accepts, with Zendesk's validation: tickets, comments, users and update_many jobs.

Each function takes the account and the moment (Unix seconds) and returns a ``Result``: the HTTP status, the
JSON body and the webhook events the change raises. A refusal is a 422 ``RecordInvalid`` whose ``details`` name
the fields (``{"requester_id": [{"description": …, "error": "InvalidValue"}]}``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from connectors.zendesk.sandbox.account import Account, stamp
from connectors.zendesk.sandbox.data import API_USER_ID

USER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "member_rank": str, "member_points": int, "points_expiring": int, "points_expiring_at": str,
    "member_benefits": list,
}  # fmt: skip
"""The account's custom user fields and the JSON type each takes (null always clears one).

``member_benefits`` is a multiselect field: its value is a list of option values (tags: no spaces)."""
WRITABLE_STATUSES = ("new", "open", "pending", "hold", "solved")
MAX_UPDATE_MANY = 100
Event = tuple[str, str, dict[str, Any]]
"""``(kind, event type, row)``: ``("ticket", "created", {...})``."""


@dataclass(frozen=True)
class Result:
    """What a write answers, and the events it raises."""

    status: int
    body: dict[str, Any]
    events: list[Event] = field(default_factory=list)


def record_invalid(**problems: tuple[str, str]) -> Result:
    """A 422 naming each field with ``(error code, description)``."""
    details = {name: [{"description": text, "error": code}] for name, (code, text) in problems.items()}
    return Result(422, {"error": "RecordInvalid", "description": "Record validation errors", "details": details})


def create_ticket(account: Account, payload: Any, now: float) -> Result:
    """``POST /api/v2/tickets``: a comment is required; the requester defaults to the API user."""
    ticket = payload.get("ticket") if isinstance(payload, dict) else None
    if not isinstance(ticket, dict):
        return Result(400, {"error": "InvalidEndpoint", "description": "body needs a ticket object"})
    comment = ticket.get("comment")
    body = str(comment.get("body") or "").strip() if isinstance(comment, dict) else ""
    requester = ticket.get("requester_id", API_USER_ID)
    status = ticket.get("status", "new")
    if not body:
        return record_invalid(description=("BlankValue", "Description: cannot be blank"))
    if not isinstance(requester, int) or requester not in account.users:
        return record_invalid(requester_id=("InvalidValue", "Requester is invalid"))
    if status not in WRITABLE_STATUSES:
        return record_invalid(status=("InvalidValue", "Status is invalid"))
    ticket_id = max(account.tickets, default=1000) + 1
    row = {
        "id": ticket_id, "external_id": ticket.get("external_id"), "subject": ticket.get("subject") or body[:60],
        "description": body, "status": status, "priority": ticket.get("priority"), "type": ticket.get("type"),
        "requester_id": requester, "submitter_id": API_USER_ID, "assignee_id": None, "via": {"channel": "api"},
        "tags": sorted(set(ticket.get("tags") or [])), "custom_fields": list(ticket.get("custom_fields") or []),
        "created_at": stamp(now), "updated_at": stamp(now),
    }  # fmt: skip
    account.tickets[ticket_id] = row
    account.add_comment(
        ticket_id, body, public=not isinstance(comment, dict) or comment.get("public") is not False, at=now
    )
    _mark_solved(account, row, now)
    return Result(201, {"ticket": dict(row), "audit": {"ticket_id": ticket_id}}, [("ticket", "created", row)])


def update_ticket(account: Account, ticket_id: int, payload: Any, now: float) -> Result:
    """``PUT /api/v2/tickets/{id}``: status, tags, subject, custom fields and an optional comment."""
    row = account.tickets.get(ticket_id)
    if row is None or row["status"] == "deleted":
        return Result(404, {"error": "RecordNotFound", "description": "Not found"})
    ticket = payload.get("ticket") if isinstance(payload, dict) else None
    if not isinstance(ticket, dict):
        return Result(400, {"error": "InvalidEndpoint", "description": "body needs a ticket object"})
    if row["status"] == "closed":
        return record_invalid(status=("InvalidValue", "Status: closed prevents ticket update"))
    status = ticket.get("status", row["status"])
    if status not in WRITABLE_STATUSES:
        return record_invalid(status=("InvalidValue", "Status is invalid"))
    events: list[Event] = []
    comment = ticket.get("comment")
    if isinstance(comment, dict) and str(comment.get("body") or "").strip():
        account.add_comment(ticket_id, str(comment["body"]).strip(), public=bool(comment.get("public", True)), at=now)
        events.append(("ticket", "comment_added", row))
    if status != row["status"]:
        events.append(("ticket", "status_changed", row))
    row.update({key: ticket[key] for key in ("subject", "tags", "custom_fields", "external_id") if key in ticket})
    row.update(status=status, updated_at=stamp(now))
    _mark_solved(account, row, now)
    return Result(200, {"ticket": dict(row), "audit": {"ticket_id": ticket_id}}, events)


def create_or_update_user(account: Account, payload: Any, now: float) -> Result:
    """``POST /api/v2/users/create_or_update``: matched on ``external_id``, then email; 201 new, 200 updated."""
    user = payload.get("user") if isinstance(payload, dict) else None
    if not isinstance(user, dict):
        return Result(400, {"error": "InvalidEndpoint", "description": "body needs a user object"})
    problem = _user_fields_problem(user.get("user_fields"))
    if problem:
        return record_invalid(user_fields=("InvalidValue", problem))
    found = _match(account, user)
    if found is None and not str(user.get("name") or "").strip():
        return record_invalid(name=("BlankValue", "Name: cannot be blank"))
    if found is None:
        user_id = max(account.users, default=0) + 1
        found = {"id": user_id, "name": None, "email": None, "phone": None, "role": "end-user", "verified": False,
                 "external_id": None, "tags": [], "user_fields": dict.fromkeys(USER_FIELDS), "active": True,
                 "locale": "ja", "time_zone": "Asia/Tokyo", "created_at": stamp(now)}  # fmt: skip
        account.users[user_id] = found
        status, kind = 201, "created"
    else:
        status, kind = 200, "name_changed"
    _apply_user(found, user, now)
    return Result(status, {"user": dict(found)}, [("user", kind, found)])


def update_many(account: Account, payload: Any, now: float) -> Result:
    """``PUT /api/v2/users/update_many``: a queued job whose results say, per user, updated or why not."""
    users = payload.get("users") if isinstance(payload, dict) else None
    if not isinstance(users, list) or not users:
        return Result(400, {"error": "InvalidEndpoint", "description": "body needs a users list"})
    if len(users) > MAX_UPDATE_MANY:
        return Result(400, {"error": "TooManyValues", "description": f"at most {MAX_UPDATE_MANY} users a call"})
    results, events = [], []
    for update in users:
        result, row = _update_one(account, update, now)
        results.append(result)
        if row is not None:
            events.append(("user", "custom_field_changed", row))
    job_id = uuid.uuid4().hex
    account.jobs[job_id] = {"id": job_id, "job_type": "bulk_update_users", "status": "completed",
                            "total": len(users), "progress": len(users), "results": results}  # fmt: skip
    queued = {"id": job_id, "job_type": "bulk_update_users", "status": "queued", "total": len(users),
              "progress": 0, "results": None, "url": f"/api/v2/job_statuses/{job_id}.json"}  # fmt: skip
    return Result(200, {"job_status": queued}, events)


def _update_one(account: Account, update: Any, now: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
    user_id = update.get("id") if isinstance(update, dict) else None
    row = account.users.get(user_id) if isinstance(user_id, int) else None
    if row is None:
        return {"id": user_id, "success": False, "status": "Failed", "error": "UserNotFound"}, None
    if _user_fields_problem(update.get("user_fields")):
        return {"id": user_id, "success": False, "status": "Failed", "error": "InvalidValue"}, None
    _apply_user(row, update, now)
    return {"id": user_id, "action": "update", "success": True, "status": "Updated"}, row


def _match(account: Account, user: dict[str, Any]) -> dict[str, Any] | None:
    for key in ("external_id", "email"):
        value = user.get(key)
        if value:
            found = next((row for row in account.users.values() if row.get(key) == value), None)
            if found is not None:
                return found
    return None


def _apply_user(row: dict[str, Any], user: dict[str, Any], now: float) -> None:
    row.update({key: user[key] for key in ("name", "email", "phone", "external_id", "tags") if key in user})
    row["user_fields"] = {**row.get("user_fields", {}), **(user.get("user_fields") or {})}
    row["updated_at"] = stamp(now)


def _user_fields_problem(fields: Any) -> str | None:
    if fields is None:
        return None
    if not isinstance(fields, dict):
        return "user_fields must be an object"
    for key, value in fields.items():
        if key not in USER_FIELDS:
            return f"no user field with key {key}"
        wanted = USER_FIELDS[key]
        if value is not None and (not isinstance(value, wanted) or isinstance(value, bool)):
            return f"user field {key} takes a {getattr(wanted, '__name__', 'value')}"
        if isinstance(value, list) and not all(isinstance(tag, str) and tag and " " not in tag for tag in value):
            return f"user field {key} takes option values (tags without spaces)"
    return None


def _mark_solved(account: Account, row: dict[str, Any], now: float) -> None:
    if row["status"] in ("solved", "closed"):
        account.solved_at.setdefault(row["id"], stamp(now))
    else:
        account.solved_at.pop(row["id"], None)
