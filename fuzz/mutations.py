"""Hostile shapes a byte-level mutator seldom builds: deep nesting, giant numbers, non-ASCII digits, bad UTF-8.

libFuzzer's mutations insert at most a few dozen bytes at a time and the coverage of a recursive decoder does
not grow with depth, so a thousand nested ``[`` or a 5,000-digit id is out of its reach. One mutation in five
splices such a shape at a random place (often inside a JSON string or after a ``:``); the others are libFuzzer's.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_NON_ASCII_DIGITS = ("²", "٣", "１", "߁", "𝟗")
_SHARE = 5


def _deep(rng: random.Random) -> bytes:
    opener = rng.choice((b"[", b'{"a":', b"a=[", b"{x={"))
    return opener * rng.randint(600, 4000)


def _long_digits(rng: random.Random) -> bytes:
    return b"9" * rng.randint(4301, 6000)


def _odd_digit(rng: random.Random) -> bytes:
    return rng.choice(_NON_ASCII_DIGITS).encode()


def _bad_utf8(rng: random.Random) -> bytes:
    return rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"))


_SHAPES: tuple[Callable[[random.Random], bytes], ...] = (_deep, _long_digits, _odd_digit, _bad_utf8)


def hostile(data: bytes, max_size: int, seed: int) -> bytes | None:
    """``data`` with a hostile shape spliced in (one call in ``_SHARE``), else ``None``: use libFuzzer's mutation."""
    rng = random.Random(seed)  # noqa: S311 - libFuzzer's seed makes the mutation reproducible; no secrecy
    if rng.randrange(_SHARE):
        return None
    shape = rng.choice(_SHAPES)(rng)
    place = _splice_point(data, rng)
    replaced = rng.randint(0, min(40, len(data) - place))
    return (data[:place] + shape + data[place + replaced :])[:max_size]


def _splice_point(data: bytes, rng: random.Random) -> int:
    """Just after a quote or a colon when there is one (inside a string, or where a value starts)."""
    marks = [index + 1 for index, byte in enumerate(data) if byte in b'":=']
    return rng.choice(marks) if marks and rng.random() < 0.8 else rng.randint(0, len(data))
