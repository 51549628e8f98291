"""What a fuzz target is, and how one input is judged: a documented error is fine, anything else is a finding.

A target module defines ``TARGET``: the parsing entry point fed with fuzzer bytes, the errors that parser
promises (``WebhookRejected``, ``ConfigError`` …), and realistic seeds. This module imports nothing of the
project, so the harness can instrument the parsers as it imports them.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

_REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FuzzTarget:
    """A parser under fuzzing: ``parse(data)`` may raise only ``expected``; ``seeds()`` are realistic inputs."""

    name: str
    parse: Callable[[bytes], object]
    expected: tuple[type[BaseException], ...]
    seeds: Callable[[], Iterable[bytes]]
    klass: str = field(default="webhooks")
    """The class of parser for the item's time budget: ``webhooks``, ``records`` (POS and API pages), ``config``."""


@dataclass(frozen=True)
class Finding:
    """An undocumented exception: its type, message head and the innermost frame of the project that raised it."""

    error: str
    where: str
    input_sha1: str

    @property
    def signature(self) -> str:
        """What makes two findings the same bug: the exception type and where it was raised."""
        return f"{self.error.split(':')[0]} at {self.where}"


def judge(target: FuzzTarget, data: bytes) -> Finding | None:
    """Run one input; ``None`` if the parser returned or raised an error it documents, else the finding."""
    try:
        target.parse(data)
    except target.expected:
        return None
    except Exception as error:  # everything undocumented is what we are looking for
        return Finding(_one_line(error), _raised_at(error), hashlib.sha1(data).hexdigest())  # noqa: S324
    return None


def save_finding(directory: Path, finding: Finding, data: bytes) -> Path:
    """Keep the input that crashed, named after its digest, for the regression test."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"finding-{finding.input_sha1}"
    path.write_bytes(data)
    return path


def _one_line(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text[:120]}"


def _raised_at(error: BaseException) -> str:
    """The innermost frame in our own packages (else the innermost of all), as ``path:line``."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if not _foreign(frame.filename)]
    frame = (ours or frames)[-1]
    return f"{_short(frame.filename)}:{frame.lineno}"


def _short(filename: str) -> str:
    """A path inside the repository relative to its root; others as they are."""
    return filename.removeprefix(f"{_REPOSITORY}/")


def _foreign(filename: str) -> bool:
    """Code of the standard library or a dependency, not ours."""
    return filename.startswith("<") or "/site-packages/" in filename or "/lib/python" in filename
