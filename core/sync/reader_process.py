"""The isolated reader: a connector's ``read`` runs in a child process that holds no keys and no database.

The child builds the connector from its configuration, sends each batch through a pipe and waits for the
engine's acknowledgement before reading further, so at most one batch is in flight (bounded memory). The
engine can kill the child at any moment — a hang in C code, a memory leak or a crash of the interpreter ends
there — and resumes later from the last cursor it committed.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from core.errors import MemberHubError, NotSliceableError, RetryableError
from core.plugins.manager import build_plugin_manager
from core.sync.contract import Backfiller, Batch, Connector, SlicedBackfiller
from core.sync.registry import ConnectorRegistry, InstanceConfig

_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class ReaderSpec:
    """Everything the child needs to rebuild the connector and read one stream."""

    instance: InstanceConfig
    stream: str | None
    cursor: str | None = None
    extra_plugins: Sequence[str] = ()
    check_only: bool = False
    backfill: bool = False
    """Read through the connector's ``Backfiller`` capability when it has one (the backfill lane)."""
    part: str | None = None
    """Read this slice of a sliced backfill (``SlicedBackfiller.backfill_slice``)."""
    plan_slices: int = 0
    """Only plan a sliced backfill of at most this many slices (``SlicedBackfiller.backfill_slices``)."""


@dataclass(frozen=True)
class ReaderFailure:
    """Why a reader stopped: the error class and a PII-free one-line message."""

    error_class: str
    message: str
    retryable: bool


def start_reader(spec: ReaderSpec) -> tuple[Any, Connection]:
    """Start the child process; returns it and the parent's end of the pipe.

    SIGINT is blocked while the child starts and ignored inside it: a Ctrl-C reaches the whole process group,
    and it is the engine's to handle (stop after the current batch), not a connector failure.
    """
    parent_end, child_end = _CONTEXT.Pipe(duplex=True)
    process = _CONTEXT.Process(target=_reader_main, args=(child_end, spec), daemon=True, name=f"reader:{spec.stream}")
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    child_end.close()
    return process, parent_end


def _reader_main(pipe: Connection, spec: ReaderSpec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    connector = None
    try:
        manager = build_plugin_manager(extra_plugins=spec.extra_plugins)
        registry = ConnectorRegistry.from_plugins(manager, {spec.instance.name: spec.instance})
        connector = registry.build(spec.instance.name)
        if spec.check_only or spec.stream is None:
            pipe.send(("checked", connector.check()))
            return
        if spec.plan_slices:
            pipe.send(("planned", list(_sliced(connector).backfill_slices(spec.stream, spec.plan_slices))))
            return
        for batch in _batches(connector, spec):
            pipe.send(("batch", batch))
            if pipe.recv() != "more":
                return
        pipe.send(("done", None))
    except BaseException as error:
        pipe.send(("failed", describe_failure(error)))
    finally:
        if connector is not None:
            connector.close()
        pipe.close()


def _batches(connector: Connector, spec: ReaderSpec) -> Iterator[Batch]:
    """The batches the spec asks for: a slice, the export path (backfill lane) or the plain read."""
    assert spec.stream is not None
    if spec.part is not None:
        return _sliced(connector).backfill_slice(spec.stream, spec.part, spec.cursor)
    if spec.backfill and isinstance(connector, Backfiller):
        return connector.backfill(spec.stream, spec.cursor)
    return connector.read(spec.stream, spec.cursor)


def _sliced(connector: Connector) -> SlicedBackfiller:
    if not isinstance(connector, SlicedBackfiller):
        raise NotSliceableError("the connector cannot split a backfill into slices (no SlicedBackfiller capability)")
    return connector


def describe_failure(error: BaseException) -> ReaderFailure:
    """Our own errors carry safe messages; a foreign exception's text may hold data, so only its class."""
    message = str(error) if isinstance(error, MemberHubError) else "unexpected error inside the connector"
    return ReaderFailure(type(error).__name__, message, isinstance(error, RetryableError))
