"""HTTP to the Zendesk Support API, and only here: exports, ticket threads and the writes, on the shared client.

Retry belongs to ``core.sync.http.ConnectorHttpClient``; this module adds Zendesk's rows of the classification
table and turns answers into small typed values. A 422 ``RecordInvalid`` names the fields and error codes in
its message (``details`` keys), never their descriptions, which quote the values.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.zendesk.config import ZendeskConfig
from core.errors import PermanentError
from core.sync.http import Action, ClientStats, ConnectorHttpClient, ErrorRule, response_json
from core.sync.retry import RetryPolicy

ZENDESK_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(Action.RETRY, "rate limited", statuses=(429,)),
    ErrorRule(Action.RETRY, "conflicting concurrent update", statuses=(409,)),
    ErrorRule(Action.RETRY, "server error", statuses=tuple(range(500, 600))),
    ErrorRule(Action.FAIL, "request rejected as malformed", statuses=(400,)),
    ErrorRule(Action.FAIL, "credentials rejected", statuses=(401,)),
    ErrorRule(Action.FAIL, "forbidden: the token's user lacks the permission", statuses=(403,)),
    ErrorRule(Action.FAIL, "no such resource", statuses=(404,)),
    ErrorRule(Action.FAIL, "body too large", statuses=(413,)),
    ErrorRule(Action.FAIL, "record invalid", statuses=(422,)),
)
"""Status → action before the shared ``DEFAULT_RULES``. 429 honours ``Retry-After`` (the export endpoints allow
10 requests a minute); 409 is Zendesk's answer to two updates of one record at once, which it asks to retry."""

EXPORT_PATHS = {"users": "/api/v2/incremental/users/cursor.json", "tickets": "/api/v2/incremental/tickets/cursor.json"}
_COMMENTS = "/api/v2/tickets/{id}/comments.json"
_TICKET = "/api/v2/tickets/{id}.json"
_USER = "/api/v2/users/{id}.json"
_JOB = "/api/v2/job_statuses/{id}.json"


@dataclass(frozen=True)
class ExportPage:
    """One page of a cursor-based incremental export, with the side-loads that came with it."""

    items: Sequence[Any]
    after_cursor: str | None
    end_of_stream: bool
    sideloads: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Thread:
    """A ticket's comments, oldest first, and the roles of their authors (user id → role)."""

    comments: Sequence[Any]
    roles: Mapping[int, str]


class ZendeskClient:
    """The Zendesk operations the connector uses; they raise ``RetryableError`` or ``PermanentError``, PII-free."""

    def __init__(
        self,
        config: ZendeskConfig,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        headers = {"Authorization": _authorization(config, token), "Accept": "application/json",
                   "User-Agent": "memberhub-zendesk-connector"}  # fmt: skip
        self._http = ConnectorHttpClient(
            config.api_root, headers=headers, timeout=config.timeout_s, transport=transport,
            policy=retry or RetryPolicy(max_attempts=config.max_attempts), rules=ZENDESK_ERROR_RULES,
            sleep=sleep, classify=_record_invalid,
        )  # fmt: skip

    @property
    def stats(self) -> ClientStats:
        """The shared client's counters (requests, attempts, retries, seconds waited)."""
        return self._http.stats

    def me(self) -> Mapping[str, Any]:
        """The user the credentials belong to."""
        return _object(self._http.get_json("/api/v2/users/me.json"), "user", "GET /api/v2/users/me.json")

    def export_page(self, stream: str, *, start_time: int | None, cursor: str | None, **params: Any) -> ExportPage:
        """One page of ``/api/v2/incremental/{stream}/cursor.json``: from ``cursor``, else from ``start_time``."""
        path = EXPORT_PATHS[stream]
        query: dict[str, Any] = {"per_page": self.config.page_size, **params}
        query.update({"cursor": cursor} if cursor else {"start_time": start_time or 0})
        body = self._http.get_json(path, params=query)
        items = body.get(stream) if isinstance(body, dict) else None
        after = body.get("after_cursor") if isinstance(body, dict) else None
        end = body.get("end_of_stream") if isinstance(body, dict) else None
        if not isinstance(items, list) or not isinstance(after, str | None) or not isinstance(end, bool):
            raise PermanentError(f"GET {path}: answer is not an export page (no {stream} list or end_of_stream)")
        sideloads = {key: value for key, value in body.items() if key not in (stream, "after_cursor", "end_of_stream")}
        return ExportPage(items, after, end, sideloads)

    def thread(self, ticket_id: int) -> Thread:
        """Every comment of a ticket (cursor pagination, ``page[size]``), with the authors side-loaded."""
        comments: list[Any] = []
        roles: dict[int, str] = {}
        params: dict[str, Any] = {"page[size]": self.config.comments_page_size, "include": "users"}
        while True:
            body = self._http.get_json(_COMMENTS.format(id=ticket_id), template=_COMMENTS, params=params)
            page = body.get("comments") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise PermanentError(f"GET {_COMMENTS}: answer has no comments list")
            comments.extend(page)
            roles.update(_roles(body.get("users")))
            meta = body.get("meta") or {}
            if not (isinstance(meta, dict) and meta.get("has_more") and meta.get("after_cursor")):
                return Thread(comments, roles)
            params = {**params, "page[after]": meta["after_cursor"]}

    def ticket(self, ticket_id: int) -> Mapping[str, Any] | None:
        """One ticket with its metric set, or ``None`` if it no longer exists."""
        body = self._get_or_none(_TICKET.format(id=ticket_id), _TICKET, params={"include": "metric_sets"})
        if body is None:
            return None
        ticket = dict(_object(body, "ticket", f"GET {_TICKET}"))
        metrics = body.get("metric_sets")
        if isinstance(metrics, list) and metrics:
            ticket["metric_set"] = metrics[0]
        return ticket

    def user(self, user_id: int) -> Mapping[str, Any] | None:
        """One user, or ``None`` if there is none with that id."""
        body = self._get_or_none(_USER.format(id=user_id), _USER)
        return None if body is None else _object(body, "user", f"GET {_USER}")

    def tickets_by_external_id(self, external_id: str) -> list[Mapping[str, Any]]:
        """The tickets carrying ``external_id`` (Zendesk does not keep it unique), oldest first."""
        body = self._http.get_json("/api/v2/tickets.json", params={"external_id": external_id})
        tickets = body.get("tickets") if isinstance(body, dict) else None
        if not isinstance(tickets, list):
            raise PermanentError("GET /api/v2/tickets.json: answer has no tickets list")
        return sorted((t for t in tickets if isinstance(t, dict)), key=lambda t: t.get("id") or 0)

    def create_ticket(self, ticket: Mapping[str, Any], *, idempotency_key: str) -> Mapping[str, Any]:
        """``POST /api/v2/tickets.json``; a repeated key is answered with the first ticket (no duplicate)."""
        response = self._http.request(
            "POST", "/api/v2/tickets.json", json={"ticket": ticket}, headers={"Idempotency-Key": idempotency_key}
        )
        return _object(_json(response, "POST /api/v2/tickets.json"), "ticket", "POST /api/v2/tickets.json")

    def update_ticket(self, ticket_id: int, ticket: Mapping[str, Any]) -> Mapping[str, Any]:
        """``PUT /api/v2/tickets/{id}.json`` (status, a comment…); Zendesk takes no idempotency key here."""
        response = self._http.request("PUT", _TICKET.format(id=ticket_id), template=_TICKET, json={"ticket": ticket})
        return _object(_json(response, f"PUT {_TICKET}"), "ticket", f"PUT {_TICKET}")

    def user_by_external_id(self, external_id: str) -> Mapping[str, Any] | None:
        """The user carrying ``external_id`` (unique per account), if any."""
        body = self._http.get_json("/api/v2/users/search.json", params={"external_id": external_id})
        users = body.get("users") if isinstance(body, dict) else None
        if not isinstance(users, list):
            raise PermanentError("GET /api/v2/users/search.json: answer has no users list")
        return next((user for user in users if isinstance(user, dict)), None)

    def create_or_update_user(self, user: Mapping[str, Any]) -> Mapping[str, Any]:
        """``POST /api/v2/users/create_or_update.json``: matched on ``external_id`` or email."""
        path = "/api/v2/users/create_or_update.json"
        response = self._http.request("POST", path, json={"user": user})
        return _object(_json(response, f"POST {path}"), "user", f"POST {path}")

    def update_many_users(self, users: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """``PUT /api/v2/users/update_many.json`` with one update per user; returns the queued job status."""
        path = "/api/v2/users/update_many.json"
        response = self._http.request("PUT", path, json={"users": list(users)})
        return _object(_json(response, f"PUT {path}"), "job_status", f"PUT {path}")

    def job_status(self, job_id: str) -> Mapping[str, Any]:
        """A background job's status and, once done, its per-item results."""
        body = self._http.get_json(_JOB.format(id=job_id), template=_JOB)
        return _object(body, "job_status", f"GET {_JOB}")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _get_or_none(self, path: str, template: str, **kwargs: Any) -> Any:
        try:
            return self._http.get_json(path, template=template, **kwargs)
        except PermanentError as error:
            if error.status == 404:
                return None
            raise


def _authorization(config: ZendeskConfig, token: str) -> str:
    if config.auth == "oauth":
        return f"Bearer {token}"
    basic = base64.b64encode(f"{config.email}/token:{token}".encode()).decode()
    return f"Basic {basic}"


def _record_invalid(response: httpx.Response) -> ErrorRule | None:
    """A 422 ``RecordInvalid`` with the fields and error codes it names (never the descriptions)."""
    if response.status_code != 422:
        return None
    try:
        body = response_json(response)
    except ValueError:
        return None
    details = body.get("details") if isinstance(body, dict) else None
    if not isinstance(details, dict) or not details:
        return None
    named = [f"{name} ({_codes(problems)})" for name, problems in sorted(details.items())[:5]]
    return ErrorRule(Action.FAIL, f"{body.get('error') or 'record invalid'}: {', '.join(named)}")


def _codes(problems: Any) -> str:
    if not isinstance(problems, list):
        return "invalid"
    codes = {str(p.get("error")) for p in problems if isinstance(p, dict) and isinstance(p.get("error"), str)}
    return "/".join(sorted(codes)) or "invalid"


def _roles(users: Any) -> dict[int, str]:
    if not isinstance(users, list):
        return {}
    return {
        user["id"]: str(user.get("role"))
        for user in users
        if isinstance(user, dict) and isinstance(user.get("id"), int)
    }


def _json(response: httpx.Response, endpoint: str) -> Any:
    try:
        return response_json(response)
    except ValueError:
        raise PermanentError(f"{endpoint}: HTTP {response.status_code} body is not JSON") from None


def _object(body: Any, key: str, endpoint: str) -> Mapping[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise PermanentError(f"{endpoint}: answer has no {key} object")
    return value
