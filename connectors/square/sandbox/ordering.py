"""Records sorted on one timestamp, compactly: a sorted array of packed keys plus a tail of moved records.

A key packs the timestamp (milliseconds since ``BASE_MS``) above the record's index, so one integer compares like
the pair. The array is built on first use (8 bytes a record); a record whose timestamp moves (an edit bumps
``updated_at`` past every other) gets a new key on the tail, and its old key is skipped from then on. A search
cursor holds a key — a position, not an offset — so a record that moves while a client pages shifts no other.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Callable, Iterator

INDEX_BITS = 22
BASE_MS = 1_700_000_000_000  # November 2023: every sandbox timestamp is later
_INDEX_MASK = (1 << INDEX_BITS) - 1


def pack(moment_ms: int, index: int) -> int:
    """The sort key of record ``index`` at ``moment_ms``."""
    return ((moment_ms - BASE_MS) << INDEX_BITS) | index


def unpack(key: int) -> tuple[int, int]:
    """``(moment_ms, index)`` of a key."""
    return (key >> INDEX_BITS) + BASE_MS, key & _INDEX_MASK


class SortedRecords:
    """Records ``1..count`` by ``(moment, index)``; ``generated(index)`` gives each record's first moment."""

    def __init__(self, count: int, generated: Callable[[int], int]) -> None:
        if count > _INDEX_MASK:
            raise ValueError(f"at most {_INDEX_MASK} records")
        self._count = count
        self._generated = generated
        self._base: array[int] | None = None
        self._tail: list[int] = []
        self._moved: dict[int, int] = {}

    def moment(self, index: int) -> int:
        """The record's current moment."""
        return self._moved.get(index) or self._generated(index)

    def latest(self) -> int:
        """The greatest moment of any record (0 with none)."""
        base = self._sorted()
        last = [unpack(base[-1])[0]] if base else []
        return max([*last, *(unpack(key)[0] for key in self._tail[-1:])], default=0)

    def move(self, index: int, *, not_before: int) -> int:
        """Give the record a moment 1 ms past every other and at least ``not_before``; returns it."""
        moment = max(self.latest() + 1, not_before)
        self._moved[index] = moment
        self._tail.append(pack(moment, index))
        return moment

    def append(self, index: int, *, not_before: int) -> int:
        """Add record ``index`` (past the generated ones) at a moment past every other; returns that moment."""
        return self.move(index, not_before=not_before)

    def scan(self, *, after: int | None, descending: bool = False) -> Iterator[int]:
        """Indexes in key order strictly past ``after`` (a packed key), ascending or descending."""
        base = self._sorted()
        if descending:
            keys: Iterator[int] = itertools.chain(reversed(self._tail), reversed(base))
        else:
            start = 0 if after is None else bisect.bisect_right(base, after)
            keys = itertools.chain(base[start:], list(self._tail))
        for key in keys:
            if after is not None and (key >= after if descending else key <= after):
                continue
            moment, index = unpack(key)
            if self.moment(index) == moment:  # otherwise the stale key of a moved record
                yield index

    def key(self, index: int) -> int:
        """The record's current packed key."""
        return pack(self.moment(index), index)

    def _sorted(self) -> array[int]:
        if self._base is None:
            self._base = array("q", sorted(pack(self._generated(i), i) for i in range(1, self._count + 1)))
        return self._base
