"""Relay-style connections over the shop's records: ``first``/``after``, ``sortKey``, and the ``query`` search syntax.

Only the ``updated_at`` term of Shopify's search syntax is understood (``updated_at:>'2025-01-01T00:00:00Z'``,
also ``>=``, ``<``, ``<=`` and a bare value, terms joined by ``AND``); other terms are ignored, as Shopify ignores
terms it cannot apply. Cursors are opaque base64 positions.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError

from connectors.shopify.sandbox.ordering import pack
from connectors.shopify.sandbox.records import ShopRecords

MAX_PAGE_SIZE = 250
_TERM = re.compile(r"updated_at:(>=|<=|>|<)?\s*(?:'([^']*)'|\"([^\"]*)\"|(\S+))", re.IGNORECASE)


@dataclass
class BulkPage:
    """In a bulk export, the window the top-level connection serves next, and where it ended."""

    after: str | None
    size: int
    end_cursor: str | None = None
    has_next: bool = False


@dataclass(frozen=True)
class UpdatedWindow:
    """Packed-key bounds from the search query: ``since`` <= key < ``before``."""

    since: int | None = None
    before: int | None = None


def parse_search(query: str | None) -> UpdatedWindow:
    """The ``updated_at`` bounds in a search query (terms are ANDed)."""
    since: int | None = None
    before: int | None = None
    for match in _TERM.finditer(query or ""):
        operator, moment = match.group(1) or ":", _epoch(next(g for g in match.groups()[1:] if g is not None))
        lower = {">": math.floor(moment) + 1, ">=": math.ceil(moment), ":": math.ceil(moment)}.get(operator)
        upper = {"<": math.ceil(moment), "<=": math.floor(moment) + 1, ":": math.floor(moment) + 1}.get(operator)
        if lower is not None:
            since = max(since or 0, pack(lower, 0))
        if upper is not None:
            before = pack(upper, 0) if before is None else min(before, pack(upper, 0))
    return UpdatedWindow(since, before)


def _epoch(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"Invalid search date: {text}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def encode_cursor(sort: str, key: int) -> str:
    """An opaque cursor for the position ``key`` in ``sort`` order."""
    return base64.urlsafe_b64encode(f"{sort}:{key}".encode()).decode()


def decode_cursor(sort: str, cursor: str) -> int:
    """The position in a cursor made by ``encode_cursor`` for the same sort order."""
    try:
        kind, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == sort:
            return int(key)
    except (ValueError, binascii.Error):
        pass
    raise GraphQLError("Invalid cursor for current pagination sort.", extensions={"code": "BAD_REQUEST"})


def record_connection(
    records: ShopRecords, kind: str, args: dict[str, Any], bulk_page: BulkPage | None
) -> dict[str, Any]:
    """A page of customers or orders as ``{edges, nodes, pageInfo}``."""
    sort = "UPDATED_AT" if args.get("sortKey") == "UPDATED_AT" else "ID"
    first, after = (bulk_page.size, bulk_page.after) if bulk_page else (page_size(args), args.get("after"))
    window = parse_search(args.get("query"))
    position = decode_cursor(sort, after) if after else None
    indexes = list(itertools.islice(_scan(records, kind, sort, position, window), first + 1))
    page = indexes[:first]
    nodes = [records.render(kind, index) for index in page]
    cursors = [encode_cursor(sort, _position(records, kind, sort, index)) for index in page]
    if bulk_page:
        bulk_page.end_cursor = cursors[-1] if cursors else None
        bulk_page.has_next = len(indexes) > first
    return connection(nodes, cursors, has_next=len(indexes) > first, has_previous=position is not None)


def list_connection(items: list[dict[str, Any]], args: dict[str, Any], *, unlimited: bool) -> dict[str, Any]:
    """A page of an in-memory list (an order's line items); cursors are positions."""
    start = decode_cursor("LIST", args["after"]) + 1 if args.get("after") else 0
    end = len(items) if unlimited else start + page_size(args)
    page = items[start:end]
    cursors = [encode_cursor("LIST", start + offset) for offset in range(len(page))]
    return connection(page, cursors, has_next=end < len(items), has_previous=start > 0)


def connection(
    nodes: list[dict[str, Any]], cursors: list[str], *, has_next: bool, has_previous: bool
) -> dict[str, Any]:
    """The ``…Connection`` object."""
    return {
        "edges": [{"cursor": cursor, "node": node} for cursor, node in zip(cursors, nodes, strict=True)],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def page_size(args: dict[str, Any]) -> int:
    """``first``, which a normal (non-bulk) query must give, at most ``MAX_PAGE_SIZE``."""
    first = args.get("first")
    if first is None:
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise GraphQLError(
            f"The first argument must be between 0 and {MAX_PAGE_SIZE}.", extensions={"code": "BAD_REQUEST"}
        )
    return int(first)


def _scan(records: ShopRecords, kind: str, sort: str, position: int | None, window: UpdatedWindow) -> Iterator[int]:
    if sort == "UPDATED_AT":
        return records.order_by_updated[kind].scan(after=position, since=window.since, before=window.before)
    return records.scan(kind, after=position, since=window.since, before=window.before)


def _position(records: ShopRecords, kind: str, sort: str, index: int) -> int:
    return pack(records.updated_at(kind, index), index) if sort == "UPDATED_AT" else index
