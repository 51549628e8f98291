"""Process-wide structured logging, PII-safe by default (DESIGN §5).

One chain serves structlog and the stdlib loggers (httpx, SQLAlchemy, tenacity, uvicorn, Alembic …): context,
level, logger name, UTC timestamp, exceptions without locals, deny-by-default redaction, one renderer.
Every event is one line; only a console traceback spans several.
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from collections.abc import Mapping
from json import dumps as _json_dumps
from typing import Any, TextIO

import structlog
from structlog.stdlib import ProcessorFormatter
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

from core.errors import ConfigError

__all__ = ["ALLOWED_KEYS", "PII_KEY_WORDS", "configure_logging", "get_logger", "redact_event"]

ALLOWED_KEYS: tuple[str, ...] = (
    "event", "level", "logger", "timestamp",  # written by the chain itself
    "member_id", "run_id", "request_id", "connector", "stream", "source", "destination", "lane",  # not PII
    "count", "records", "records_read", "records_written", "records_quarantined", "batch_size", "attempt",
    "duration_ms", "status", "status_code", "method", "path_template", "error_class",  # runs and requests
    "kek_version", "index_version", "revision",  # key and schema versions
    "plugin", "domain_event", "merge_id",  # plugins and domain events (events carry ids, never PII)
    "actor", "role", "limit",  # console users (operators, not members) and their limits
)  # fmt: skip
"""Keys whose values are logged: numbers, booleans and None as they are, anything else as scanned text.

Any other key becomes ``[redacted]``, unless its value is a container, walked by the same rules. ``member_id``
is a random UUID, never the member number printed on a card.
"""

PII_KEY_WORDS: tuple[str, ...] = (
    "name", "kana", "email", "phone", "address", "birthday", "notes", "body", "text", "subject", "query",
    "password", "token", "secret", "key", "payload", "authorization", "cookie",
)  # fmt: skip
"""A key containing one of these words is redacted whole, containers included."""

_REDACTED = "[redacted]"
_PROCESSOR_BOOKKEEPING = ("_record", "_from_structlog")  # ProcessorFormatter's, dropped before rendering
# A formatted exception is trusted structure (types, files, lines) around untrusted text: scanned throughout.
_EXCEPTION_KEY = "exception"
_ROUTED_LOGGERS = (
    "httpx", "httpcore", "sqlalchemy", "tenacity", "uvicorn", "uvicorn.access", "uvicorn.error", "alembic",
)  # fmt: skip
# httpx logs every request and SQLAlchemy every statement at INFO once the effective level allows it.
_CHATTY_LOGGERS = ("httpx", "httpcore", "sqlalchemy")
# `create_engine(echo=True)` adds its own stdout handler to this logger unless it already has one.
_SQLALCHEMY_ECHO_LOGGER = "sqlalchemy.engine.Engine"

_DASH = r"[\-\u2010-\u2015\u2212\u30fc]"  # NFKC leaves these hyphens and the katakana long vowel mark alone
_PHONE_GAP = rf"(?:{_DASH}|[\s()]){{0,2}}"
_CJK = (r"[\u1100-\u11ff\u3005-\u3007\u303b\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
        r"\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]+")  # fmt: skip
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\[parameters: [^\n]*", "[parameters: [redacted]]"),  # SQLAlchemy error text repeats bound values
        (r"\?[^\s'\"<>]+", "?[redacted]"),  # URL query strings
        (r"[\w.%+\-]+(?:@|%40)[\w\-]+(?:\.[\w\-]+)+", "[email]"),
        (rf"(?<![0-9A-Za-z\-.+])(?:\+\d{{1,3}}{_PHONE_GAP}(?:\(0\))?|\(?0)"
         rf"\d{{1,4}}{_PHONE_GAP}\d{{1,4}}{_PHONE_GAP}\d{{3,4}}(?![0-9A-Za-z\-])", "[phone]"),
        (rf"〒\s*\d{{3}}{_DASH}?\d{{4}}|(?<![0-9A-Za-z\-.])\d{{3}}{_DASH}\d{{4}}(?![0-9A-Za-z\-])",
         "[postcode]"),
        (_CJK, "[text]"),  # names are kanji or kana; log messages are English by policy
    )
)  # fmt: skip
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_CHARS_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_JSON_LINE_BREAKS = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), 0x2028, 0x2029)}


def configure_logging(*, json: bool = False, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library for the whole process; calling again reconfigures.

    ``json`` selects one JSON object per line (production) over the console format. Start uvicorn with
    ``log_config=None`` afterwards, or its dictConfig replaces these handlers.
    """
    level_number = _level_number(level)
    pre_chain = _pre_chain(json=json)
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *pre_chain, ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # a cached logger would keep the previous configuration
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    formatter = ProcessorFormatter(
        processors=[ProcessorFormatter.remove_processors_meta, *_renderers(json, handler.stream)],
        foreign_pre_chain=pre_chain,
        pass_foreign_args=True,  # keeps %-arguments apart, so that only scalars are interpolated
        use_get_message=False,
    )
    handler.setFormatter(formatter)
    _route_stdlib(handler, level_number)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named ``name``, by default after the calling module."""
    if name is None:
        name = sys._getframe(1).f_globals.get("__name__", "memberhub")
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def redact_event(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Redact an event deny-by-default (see ``ALLOWED_KEYS``); the processor just before the renderer."""
    return {key: _redact(key, value) for key, value in event_dict.items()}


def _redact(key: str, value: object) -> object:
    if key in _PROCESSOR_BOOKKEEPING:
        return value
    if key == _EXCEPTION_KEY:
        return _scrub_tree(value)
    if any(word in key.lower() for word in PII_KEY_WORDS):
        return _REDACTED
    if isinstance(value, Mapping):
        return {_scrub(str(inner)): _redact(str(inner), item) for inner, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(key, item) for item in value]
    if key not in ALLOWED_KEYS:
        return _REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    return _scrub(str(value))


def _scrub(text: str) -> str:
    """Replace emails, phones, postcodes, URL queries and Japanese text (after NFKC: full-width digits)."""
    text = unicodedata.normalize("NFKC", text)
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


def _scrub_tree(value: object) -> object:
    """Scan every string of a formatted exception; frame locals, should any appear, are dropped."""
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, Mapping):
        return {key: _scrub_tree(item) for key, item in value.items() if key != "locals"}
    if isinstance(value, list | tuple):
        return [_scrub_tree(item) for item in value]
    return value


def _interpolate_positional_args(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Fill %-placeholders with scalars only: SQL parameters and result rows arrive as objects, redacted."""
    args = event_dict.pop("positional_args", None)
    if not args:
        return event_dict
    if isinstance(args, Mapping):
        safe: object = {key: _safe_arg(value) for key, value in args.items()}
    else:
        safe = tuple(map(_safe_arg, args))
    try:
        event_dict["event"] = str(event_dict["event"]) % safe
    except (TypeError, ValueError, KeyError):
        event_dict["event"] = f"{event_dict['event']} [arguments redacted]"
    return event_dict


def _safe_arg(arg: object) -> object:
    if arg is None or isinstance(arg, str | int | float | bool):
        return arg
    if isinstance(arg, BaseException) or (hasattr(arg, "scheme") and hasattr(arg, "query")):
        return str(arg)  # exception text and URLs (httpx passes request.url) are scanned with the message
    return _REDACTED


def _escape_for_console(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Escape control characters where ConsoleRenderer prints verbatim; a traceback keeps its line breaks."""
    for key, pattern in (("event", _CONTROL_CHARS), (_EXCEPTION_KEY, _CONTROL_CHARS_BUT_NEWLINE)):
        if isinstance(event_dict.get(key), str):
            event_dict[key] = pattern.sub(_escaped, event_dict[key])
    return event_dict


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _dumps_one_line(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` escapes C0 controls; also escape C1 and the separators ``str.splitlines`` breaks on."""
    return _json_dumps(obj, ensure_ascii=False, **kwargs).translate(_JSON_LINE_BREAKS)


def _pre_chain(*, json: bool) -> list[Processor]:
    exception_processor = (
        structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        if json
        else structlog.processors.format_exc_info  # plain traceback module text: never shows locals
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _interpolate_positional_args,
        exception_processor,
        redact_event,  # after the exception text exists, before anything renders
    ]


def _renderers(json: bool, stream: TextIO) -> list[Processor]:
    if json:
        return [structlog.processors.JSONRenderer(serializer=_dumps_one_line)]
    renderer = structlog.dev.ConsoleRenderer(
        colors=stream.isatty(),
        exception_formatter=structlog.dev.plain_traceback,  # rich would print locals
        repr_native_str=True,  # repr() escapes control characters in every other value
    )
    return [_escape_for_console, renderer]


def _route_stdlib(handler: logging.Handler, level_number: int) -> None:
    """Make ``handler`` the only way out for the root logger and the libraries' loggers."""
    _set_handlers(logging.getLogger(), handler)
    logging.getLogger().setLevel(level_number)
    for name in _ROUTED_LOGGERS:
        library_logger = _set_handlers(logging.getLogger(name))
        library_logger.propagate = True
        quiet = name in _CHATTY_LOGGERS and level_number > logging.DEBUG
        library_logger.setLevel(logging.WARNING if quiet else logging.NOTSET)
    _set_handlers(logging.getLogger(_SQLALCHEMY_ECHO_LOGGER), logging.NullHandler())


def _set_handlers(stdlib_logger: logging.Logger, *handlers: logging.Handler) -> logging.Logger:
    for old in list(stdlib_logger.handlers):
        stdlib_logger.removeHandler(old)
    for new in handlers:
        stdlib_logger.addHandler(new)
    return stdlib_logger


def _level_number(level: str) -> int:
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ConfigError(f"log level {level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return number
