"""Backfill through bulk query operations: start one, poll it, stream its JSONL result, resume where it stopped.

A bulk query runs on Shopify's side and ends in a JSONL file (shopify.dev "Perform bulk operations with the
GraphQL Admin API"): one object a line, the objects of a nested connection on lines of their own after their
parent, carrying ``__parentId``. The file is read in order, each root object with the children that follow
it, so a batch always ends on a root boundary and its cursor is a byte offset into the file (a resumed
download asks for the rest with an HTTP ``Range``). A child that does not follow its parent is quarantined
rather than guessed at.

The result URL belongs to Shopify's storage, not to the shop: it is fetched without the access token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from connectors.shopify.client import ShopifyClient
from connectors.shopify.config import ShopifyConfig
from connectors.shopify.queries import BULK_CURRENT, BULK_OPERATION, BULK_RUN
from core.errors import ConfigError, PermanentError, RetryableError, StillRunningError
from core.sync.contract import Rejected
from core.sync.wire import decode_json

FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})
_IN_PROGRESS = "OPERATION_IN_PROGRESS"
_NOT_AN_OBJECT = "bulk result line is not a JSON object"
_ORPHAN = "bulk result: a child object that does not follow its parent"


@dataclass(frozen=True)
class BulkPosition:
    """How far a backfill got: its operation, when that started, and the bytes of the result already read."""

    operation: str | None = None
    started: datetime | None = None
    offset: int = 0

    def to_json(self) -> str:
        """The stored form (the engine keeps it as the backfill lane's cursor)."""
        started = self.started.isoformat() if self.started else None
        return json.dumps({"bulk_operation": self.operation, "started": started, "offset": self.offset})

    @classmethod
    def from_json(cls, text: str | None) -> BulkPosition:
        """A stored position; anything else (nothing, the cursor of a finished backfill) starts afresh."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not data.get("bulk_operation"):
                return cls()
            started = datetime.fromisoformat(data["started"])
            return cls(str(data["bulk_operation"]), started, int(data.get("offset") or 0))
        except (ValueError, TypeError, KeyError):
            raise ConfigError("stored bulk backfill cursor is not valid") from None


@dataclass(frozen=True)
class BulkStatus:
    """One poll's view of an operation."""

    id: str
    status: str
    created_at: datetime
    error_code: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class BulkObject:
    """A root object of the result with its children attached, and the byte offset just after them."""

    item: dict[str, Any] | Rejected
    end: int


class ResultGone(Exception):
    """The result URL no longer serves the file (expired after 7 days, or a new operation replaced it)."""


class BulkExporter:
    """Runs bulk query operations on one shop and reads their results.

    ``poll_interval_s`` spaces the polls; ``max_wait_s`` bounds one call of :meth:`wait` (the run then fails as
    retryable and the next run polls the same operation again, from its cursor).
    """

    def __init__(
        self,
        client: ShopifyClient,
        config: ShopifyConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._poll_interval_s = config.bulk_poll_interval_s
        self._max_wait_s = config.bulk_max_wait_s
        self._sleep = sleep
        self._clock = clock
        self._download = httpx.Client(
            timeout=httpx.Timeout(config.timeout_s, read=max(config.timeout_s, 60.0)), transport=transport
        )
        self.waited_s = 0.0
        """Seconds spent between polls, waiting for Shopify to finish an operation."""

    def start(self, query: str) -> BulkStatus:
        """Start an operation for ``query``; one of ours already running the same query is adopted instead."""
        deadline = self._clock() + self._max_wait_s
        while True:
            payload = self._client.query("bulk-run", BULK_RUN, {"query": query}).get("bulkOperationRunQuery") or {}
            errors = payload.get("userErrors") or []
            if not errors and isinstance(payload.get("bulkOperation"), dict):
                return _status(payload["bulkOperation"])
            codes = {error.get("code") for error in errors if isinstance(error, dict)}
            if _IN_PROGRESS not in codes:
                raise PermanentError(f"bulkOperationRunQuery refused the query: {sorted(map(str, codes))}")
            running = self._client.query("bulk-current", BULK_CURRENT, {}).get("currentBulkOperation")
            if isinstance(running, dict) and running.get("query") == query and running.get("status") not in FINISHED:
                return _status(running)  # started by an earlier run whose cursor was never committed
            self._pause(deadline, "another bulk query operation is still running on the shop")

    def wait(self, operation: str) -> BulkStatus:
        """Poll ``operation`` until it is finished."""
        deadline = self._clock() + self._max_wait_s
        while True:
            node = self._client.query("bulk-poll", BULK_OPERATION, {"id": operation}).get("node")
            if not isinstance(node, dict) or not node.get("status"):
                raise PermanentError("bulk operation not found on the shop")
            status = _status(node)
            if status.status in FINISHED:
                return status
            self._pause(
                deadline, f"bulk operation still {status.status} after {self._max_wait_s:.0f} s", StillRunningError
            )

    def objects(self, url: str, offset: int, children: Mapping[str, str]) -> Iterator[BulkObject]:
        """The result's root objects from byte ``offset`` on, each with its children under ``children[type]``.

        ``children`` maps a child's GraphQL type (from its global id) to the connection field it belongs to.
        """
        root: dict[str, Any] | None = None
        root_end = offset
        for line, end in self._lines(url, offset):
            item = _json_object(line)
            parent = item.pop("__parentId", None) if item is not None else None
            field = children.get(_type_of(item.get("id"))) if item is not None and parent is not None else None
            if root is not None and field is not None and root.get("id") == parent:
                root[field]["nodes"].append(item)
                root_end = end
                continue
            if root is not None:
                yield BulkObject(root, root_end)
                root = None
            if item is not None and parent is None:
                root = {
                    **item,
                    **{name: {"nodes": [], "pageInfo": {"hasNextPage": False}} for name in children.values()},
                }
                root_end = end
            else:
                reason = _NOT_AN_OBJECT if item is None else _ORPHAN
                yield BulkObject(Rejected(_text(parent), reason, line.decode(errors="replace")), end)
        if root is not None:
            yield BulkObject(root, root_end)

    def close(self) -> None:
        """Close the download client."""
        self._download.close()

    def _lines(self, url: str, offset: int) -> Iterator[tuple[bytes, int]]:
        """Each non-empty line from byte ``offset`` on, with the offset just after it."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with self._download.stream("GET", url, headers=headers) as response:
                skip = offset if response.status_code == 200 else 0  # the server ignored the range
                if response.status_code == 416:
                    return  # the range starts at the end: everything was read
                if response.status_code in (403, 404, 410):
                    raise ResultGone()
                if response.status_code >= 500 or response.status_code == 429:
                    raise RetryableError(f"GET bulk result: HTTP {response.status_code}", status=response.status_code)
                if response.status_code not in (200, 206):
                    raise PermanentError(f"GET bulk result: HTTP {response.status_code}")
                position, pending = offset - skip, b""
                for chunk in response.iter_bytes():
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip, position = chunk[dropped:], skip - dropped, position + dropped
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    for line in complete:
                        position += len(line) + 1
                        if line.strip():
                            yield line, position
                if pending.strip():
                    yield pending, position + len(pending)
        except httpx.TransportError as error:
            raise RetryableError(f"GET bulk result: {type(error).__name__}") from None

    def _pause(self, deadline: float, message: str, error: type[RetryableError] = RetryableError) -> None:
        if self._clock() + self._poll_interval_s > deadline:
            raise error(message)
        self._sleep(self._poll_interval_s)
        self.waited_s += self._poll_interval_s


def _status(node: Mapping[str, Any]) -> BulkStatus:
    try:
        created = datetime.fromisoformat(str(node["createdAt"]).replace("Z", "+00:00"))
        return BulkStatus(str(node["id"]), str(node["status"]), created, node.get("errorCode"), node.get("url"))
    except (KeyError, ValueError):
        raise PermanentError("bulk operation answer lacks its id, status or creation time") from None


def _json_object(line: bytes) -> dict[str, Any] | None:
    try:
        item = decode_json(line)
    except ValueError:
        return None
    return item if isinstance(item, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _type_of(global_id: Any) -> str:
    """``LineItem`` of ``gid://shopify/LineItem/1``."""
    return global_id.split("/")[-2] if isinstance(global_id, str) and global_id.count("/") >= 4 else ""
