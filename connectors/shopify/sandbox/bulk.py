"""Bulk query operations: ``bulkOperationRunQuery``, polling, and the JSONL result file.

As on Shopify, an operation runs in the background: a thread executes the query through the real schema 250
root objects at a time (taking the shop's lock for each slice, so requests are served meanwhile) and writes a
file of one JSON object a line, the objects of a nested connection on their own lines after their parent with
``"__parentId"`` (shopify.dev "Perform bulk operations with the GraphQL Admin API"). Each poll
(``currentBulkOperation`` or ``node(id:)``) counts: an operation is CREATED, then RUNNING, and ends COMPLETED
(or FAILED when a failure was injected) at the first poll that comes after ``polls_to_finish`` polls and after
its file is written. One query operation runs at a time, as before API 2026-01.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionSetNode,
    execute_sync,
    get_named_type,
    parse,
    validate,
)

from connectors.shopify.sandbox.connections import MAX_PAGE_SIZE, BulkPage
from connectors.shopify.sandbox.data import iso_utc
from connectors.shopify.sandbox.records import ShopRecords

MAX_CONNECTIONS = 5
MAX_DEPTH = 2
_YIELD_S = 0.002
_FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})


@dataclass
class _Operation:
    number: int
    query: str
    created_at: int
    token: str
    fail_with: str | None
    status: str = "CREATED"
    polls: int = 0
    error_code: str | None = None
    completed_at: int | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    expired: bool = False
    export_s: float = 0.0
    written: threading.Event = field(default_factory=threading.Event)
    """Set by the export thread when the result file is complete (or the export was given up)."""

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"


class BulkOperations:
    """The shop's bulk query operations; result files live in ``directory``."""

    def __init__(
        self,
        records: ShopRecords,
        schema: Callable[[], GraphQLSchema],
        *,
        polls_to_finish: int,
        clock: Callable[[], float],
        lock: AbstractContextManager[object],
    ) -> None:
        self._records = records
        self._schema = schema
        self._clock = clock
        self._lock = lock
        self.polls_to_finish = polls_to_finish
        self._directory = tempfile.TemporaryDirectory(prefix="shopify-sandbox-bulk-")
        self._operations: dict[int, _Operation] = {}
        self._failures: list[str] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def fail_next(self, error_code: str = "INTERNAL_SERVER_ERROR", times: int = 1) -> None:
        """The next ``times`` operations started end FAILED with ``error_code`` (a ``BulkOperationErrorCode``)."""
        self._failures.extend([error_code] * times)

    def run_query(self, query: str, base_url: str) -> dict[str, Any]:
        """``bulkOperationRunQuery``: a new operation, or ``userErrors``."""
        running = self._running()
        if running is not None:
            message = f"A bulk query operation for this app and shop is already in progress: {running.gid}."
            return _payload(None, message, "OPERATION_IN_PROGRESS")
        problem = self._query_problem(query)
        if problem is not None:
            return _payload(None, problem, "INVALID")
        number = len(self._operations) + 1
        failure = self._failures.pop(0) if self._failures else None
        operation = _Operation(number, query, int(self._clock()), secrets.token_urlsafe(12), failure)
        self._operations[number] = operation
        if operation.fail_with is None:
            thread = threading.Thread(target=self._export, args=(operation,), name=f"bulk-{number}", daemon=True)
            self._threads.append(thread)
            thread.start()
        else:
            operation.written.set()
        return {"bulkOperation": self._render(operation, base_url), "userErrors": []}

    def current(self, operation_type: str, base_url: str) -> dict[str, Any] | None:
        """``currentBulkOperation``: the latest query operation, advanced by this poll."""
        if operation_type != "QUERY" or not self._operations:
            return None
        return self._poll(self._operations[max(self._operations)], base_url)

    def find(self, global_id: str, base_url: str) -> dict[str, Any] | None:
        """``node(id:)`` for a bulk operation, advanced by this poll."""
        number = global_id.rsplit("/", 1)[-1]
        operation = self._operations.get(int(number)) if number.isdigit() else None
        return None if operation is None else self._poll(operation, base_url)

    def cancel(self, global_id: str, base_url: str) -> dict[str, Any]:
        """``bulkOperationCancel``."""
        number = global_id.rsplit("/", 1)[-1]
        operation = self._operations.get(int(number)) if number.isdigit() else None
        if operation is None:
            return _payload(None, "Bulk operation does not exist", None)
        if operation.status in _FINISHED:
            return _payload(
                self._render(operation, base_url),
                f"A bulk operation cannot be canceled when it is {operation.status.lower()}",
                None,
            )
        operation.status = "CANCELED"
        return {"bulkOperation": self._render(operation, base_url), "userErrors": []}

    def result_path(self, token: str) -> Path | None:
        """The JSONL file of a completed operation, by the secret in its URL."""
        for operation in self._operations.values():
            if (
                secrets.compare_digest(operation.token, token)
                and operation.status == "COMPLETED"
                and not operation.expired
            ):
                return self._path(operation)
        return None

    @property
    def started(self) -> int:
        """How many operations were started."""
        return len(self._operations)

    def export_seconds(self) -> float:
        """Seconds spent writing result files, over every operation."""
        return sum(operation.export_s for operation in self._operations.values())

    def expire_results(self) -> None:
        """Result files of the operations so far are gone: their URLs answer 404."""
        for operation in self._operations.values():
            operation.expired = True

    def close(self) -> None:
        """Stop running exports and delete every result file."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._directory.cleanup()

    # ── internals ──────────────────────────────────────────────────────────────────────────────────

    def _running(self) -> _Operation | None:
        return next((op for op in self._operations.values() if op.status not in _FINISHED), None)

    def _poll(self, operation: _Operation, base_url: str) -> dict[str, Any]:
        if operation.status not in _FINISHED:
            operation.polls += 1
            operation.status = "RUNNING"
            if operation.polls >= self.polls_to_finish and operation.written.is_set():
                self._finish(operation)
        return self._render(operation, base_url)

    def _finish(self, operation: _Operation) -> None:
        operation.completed_at = int(self._clock())
        if operation.fail_with is not None:
            operation.status, operation.error_code = "FAILED", operation.fail_with
            return
        operation.file_size = self._path(operation).stat().st_size
        operation.status = "COMPLETED"

    def _export(self, operation: _Operation) -> None:
        """The export thread: write the query's objects as JSONL, one slice of root objects under the lock at a time."""
        from connectors.shopify.sandbox.schema import QueryContext  # the schema module imports this one

        document = parse(operation.query)
        page = BulkPage(after=None, size=MAX_PAGE_SIZE, has_next=True)
        started = time.perf_counter()
        try:
            with self._path(operation).open("w", encoding="utf-8") as out:
                while page.has_next and not self._stopping.is_set():
                    page = BulkPage(after=page.end_cursor, size=MAX_PAGE_SIZE)
                    with self._lock:
                        if operation.status == "CANCELED":
                            return
                        context = QueryContext(self._records, self, base_url="", bulk_page=page)
                        result = execute_sync(self._schema(), document, context_value=context)
                    if result.errors or result.data is None:
                        operation.fail_with = "INTERNAL_SERVER_ERROR"
                        return
                    self._write_slice(operation, result.data, out)
                    time.sleep(_YIELD_S)  # a lock is not fair: let waiting requests in between slices
        finally:
            operation.export_s = time.perf_counter() - started
            operation.written.set()

    def _write_slice(self, operation: _Operation, data: dict[str, Any], out: IO[str]) -> None:
        for root in _connection_nodes(next(iter(data.values()))):
            operation.root_object_count += 1
            for line in _jsonl_objects(root, None):
                operation.object_count += 1
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")

    def _query_problem(self, query: str) -> str | None:
        try:
            document = parse(query)
        except GraphQLError as error:
            return f"Invalid bulk query: {error.message}"
        errors = validate(self._schema(), document)
        if errors:
            return f"Invalid bulk query: {errors[0].message}"
        operation = next(node for node in document.definitions if isinstance(node, OperationDefinitionNode))
        root = self._schema().query_type
        assert root is not None
        depths = list(_connection_depths(root, operation.selection_set, 0))
        if not depths:
            return "Bulk queries must contain at least one connection."
        if len(depths) > MAX_CONNECTIONS:
            return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
        if max(depths) > MAX_DEPTH:
            return f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_DEPTH}."
        return None

    def _path(self, operation: _Operation) -> Path:
        return Path(self._directory.name) / f"{operation.token}.jsonl"

    def _render(self, operation: _Operation, base_url: str) -> dict[str, Any]:
        completed = operation.status == "COMPLETED"
        return {
            "id": operation.gid,
            "status": operation.status,
            "type": "QUERY",
            "errorCode": operation.error_code,
            "createdAt": iso_utc(operation.created_at),
            "completedAt": iso_utc(operation.completed_at) if operation.completed_at else None,
            "objectCount": str(operation.object_count),  # UnsignedInt64 travels as a string
            "rootObjectCount": str(operation.root_object_count),
            "fileSize": str(operation.file_size) if operation.file_size is not None else None,
            "url": f"{base_url}/bulk-results/{operation.token}.jsonl" if completed else None,
            "partialDataUrl": None,
            "query": operation.query,
        }


def _payload(operation: dict[str, Any] | None, message: str, code: str | None) -> dict[str, Any]:
    return {"bulkOperation": operation, "userErrors": [{"field": ["query"], "message": message, "code": code}]}


def _connection_depths(parent: Any, selection_set: SelectionSetNode, depth: int) -> Iterator[int]:
    """The nesting depth of every connection selected under ``parent``."""
    fields = getattr(parent, "fields", {})
    for node in selection_set.selections:
        if not isinstance(node, FieldNode) or node.selection_set is None or node.name.value not in fields:
            continue
        named = get_named_type(fields[node.name.value].type)
        is_connection = named.name.endswith("Connection") and isinstance(named, GraphQLObjectType)
        if is_connection:
            yield depth + 1
        yield from _connection_depths(named, node.selection_set, depth + 1 if is_connection else depth)


def _connection_nodes(connection: Any) -> list[dict[str, Any]]:
    if not isinstance(connection, dict):
        return []
    if "nodes" in connection:
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges", [])]


def _is_connection(value: Any) -> bool:
    return isinstance(value, dict) and ("edges" in value or "nodes" in value)


def _jsonl_objects(node: dict[str, Any], parent_id: str | None) -> Iterator[dict[str, Any]]:
    """``node`` without its nested connections, then each nested object with ``__parentId``."""
    own = {key: value for key, value in node.items() if not _is_connection(value)}
    if parent_id is not None:
        own["__parentId"] = parent_id
    yield own
    for value in node.values():
        if _is_connection(value):
            for child in _connection_nodes(value):
                yield from _jsonl_objects(child, node.get("id"))
