"""Klaviyo's JSON:API conventions, as the sandbox speaks them: error documents, page links and cursors, filters.

An error is ``{"errors": [{"id", "status", "code", "title", "detail", "source", "meta"}]}``. A page is
``{"data": [...], "links": {"self", "next", "prev"}}``, where ``next`` repeats the request's query with a
``page[cursor]``: an opaque keyset position. Filters are terms like ``greater-than(updated,2026-04-01T00:00:00Z)``
or ``equals(metric_id,"SvyAns")``, separated by commas (all must hold).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import JSONResponse

JSON_API = "application/vnd.api+json"
_TERM = re.compile(r'([a-z-]+)\(([a-z_.]+),("(?:[^"\\]|\\.)*"|[^,()"]+)\)')


class BadRequest(ValueError):
    """A request Klaviyo refuses with 400; the message is the detail, ``parameter`` names the culprit."""

    def __init__(self, detail: str, parameter: str | None = None, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.parameter = parameter
        self.pointer = pointer


@dataclass(frozen=True)
class Condition:
    """One filter term: ``operator(field,value)``."""

    operator: str
    field: str
    value: str

    def moment(self) -> datetime:
        """The value as an instant (a naive one is UTC)."""
        try:
            parsed = datetime.fromisoformat(self.value)
        except ValueError:
            raise BadRequest(f"'{self.field}' needs a datetime", parameter="filter") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def error_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    source: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Klaviyo's error document."""
    error = {"id": str(uuid.uuid4()), "status": status, "code": code, "title": title, "detail": detail,
             "source": source or {}, "meta": meta or {}}  # fmt: skip
    return JSONResponse({"errors": [error]}, status_code=status, headers=headers, media_type=JSON_API)


def bad_request(error: BadRequest) -> JSONResponse:
    """The 400 of a ``BadRequest``."""
    source = {"parameter": error.parameter} if error.parameter else {"pointer": error.pointer or "/data"}
    return error_response(400, "invalid", "Invalid input.", str(error), source=source)


def parse_filter(text: str | None) -> list[Condition]:
    """The terms of a ``filter`` parameter; anything else is a ``BadRequest``."""
    if not text:
        return []
    terms, position = [], 0
    for match in _TERM.finditer(text):
        if match.start() != position:
            break
        terms.append(Condition(match[1], match[2], match[3].strip('"')))
        position = match.end() + (1 if text[match.end() : match.end() + 1] == "," else 0)
    if position != len(text) or text.endswith(","):
        raise BadRequest("filter is not valid: expected terms like equals(field,value)", parameter="filter")
    return terms


def encode_cursor(key: tuple[str, str]) -> str:
    """An opaque page cursor: the keyset position after which the next page starts."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[str, str]:
    """The position in a cursor made by ``encode_cursor``."""
    try:
        sort_value, row_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return str(sort_value), str(row_id)
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest("page[cursor] is not one this API issued", parameter="page[cursor]") from None


def page_document(
    data: list[dict[str, Any]], base: str, query: dict[str, str], next_key: tuple[str, str] | None
) -> dict[str, Any]:
    """A page with its links; ``next`` is the same query with the cursor after the last resource."""
    self_link = f"{base}?{urlencode(query)}" if query else base
    next_link = None
    if next_key is not None:
        next_link = f"{base}?{urlencode({**query, 'page[cursor]': encode_cursor(next_key)})}"
    return {"data": data, "links": {"self": self_link, "next": next_link, "prev": None}}


def page_size(query: dict[str, str], default: int, maximum: int) -> int:
    """``page[size]``, checked against the endpoint's maximum."""
    try:
        size = int(query.get("page[size]", default))
    except ValueError:
        raise BadRequest("page[size] must be an integer", parameter="page[size]") from None
    if not 1 <= size <= maximum:
        raise BadRequest(f"page[size] must be between 1 and {maximum}", parameter="page[size]")
    return size
