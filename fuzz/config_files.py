"""Config loaders read a path: the fuzz input is written to one scratch file per process and loaded from there."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

_Loaded = TypeVar("_Loaded")
_SCRATCH = Path(tempfile.mkdtemp(prefix="memberhub-fuzz-config-"))


def file_parser(load: Callable[[Path], _Loaded], file_name: str) -> Callable[[bytes], _Loaded]:
    """``parse(data)`` that writes ``data`` to ``file_name`` in the scratch directory and calls ``load`` on it."""
    path = _SCRATCH / file_name

    def parse(data: bytes) -> _Loaded:
        path.write_bytes(data)
        return load(path)

    return parse


def shipped(name: str) -> bytes:
    """A configuration file shipped in the repository's ``config/``."""
    return (Path(__file__).resolve().parent.parent / "config" / name).read_bytes()
