"""Capture what the process logs through the production logging set-up (``core.logs``), then put logging back."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from core.logs import configure_logging


@contextmanager
def captured_logs(level: str = "DEBUG") -> Iterator[io.StringIO]:
    """JSON log lines, redaction included, written to the returned stream while the block runs.

    ``configure_logging`` rewires the root logger and the libraries' loggers; every one of them is restored
    afterwards, so that later tests see the logging they started with.
    """
    before = _logger_states()
    stream = io.StringIO()
    configure_logging(json=True, level=level, stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        for name in _logger_states().keys() - before.keys():
            _restore(name, ([], logging.NOTSET, True))
        for name, state in before.items():
            _restore(name, state)


State = tuple[list[logging.Handler], int, bool]


def _logger_states() -> dict[str, State]:
    names = [
        "",
        *(name for name, item in logging.Logger.manager.loggerDict.items() if isinstance(item, logging.Logger)),
    ]
    return {name: _state(logging.getLogger(name)) for name in names}


def _state(logger: logging.Logger) -> State:
    return logger.handlers[:], logger.level, logger.propagate


def _restore(name: str, state: State) -> None:
    logger = logging.getLogger(name)
    logger.handlers[:], level, logger.propagate = state
    logger.setLevel(level)
