"""Records in ``(updatedAt, id)`` order, compactly: a sorted array of packed keys plus a tail of touched records.

A key packs ``updatedAt`` (Unix seconds) above the record's index, so one integer compares like the pair. The
array is built once (8 bytes a record); a touched record gets an ``updatedAt`` later than every other, so its new
key is appended to the tail and its old one is skipped from then on. A cursor is a key (a position, not an
offset), so a record that moves while a client pages cannot shift another past the client's position.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Callable, Iterator

INDEX_BITS = 24
_INDEX_MASK = (1 << INDEX_BITS) - 1


def pack(updated_at: int, index: int) -> int:
    """The sort key of record ``index`` updated at ``updated_at``."""
    return (updated_at << INDEX_BITS) | index


def unpack(key: int) -> tuple[int, int]:
    """``(updated_at, index)`` of a key."""
    return key >> INDEX_BITS, key & _INDEX_MASK


class UpdatedAtOrder:
    """Records ``1..count`` of one kind by ``(updatedAt, index)``; ``generated_updated_at`` gives the seed values."""

    def __init__(self, count: int, generated_updated_at: Callable[[int], int]) -> None:
        if count >= 1 << INDEX_BITS:
            raise ValueError(f"at most {(1 << INDEX_BITS) - 1} records")
        self._count = count
        self._generated = generated_updated_at
        self._base: array[int] | None = None
        self._tail: list[int] = []
        self._moved: dict[int, int] = {}

    def updated_at(self, index: int) -> int:
        """The record's current ``updatedAt``."""
        return self._moved.get(index) or self._generated(index)

    def latest(self) -> int:
        """The greatest ``updatedAt`` of any record (0 with none)."""
        base = self._sorted()
        candidates = [unpack(base[-1])[0]] if base else []
        return max([*candidates, *(unpack(key)[0] for key in self._tail[-1:])], default=0)

    def touch(self, index: int, *, not_before: int = 0) -> int:
        """Give the record an ``updatedAt`` one second past every other, and at least ``not_before``; returns it."""
        moment = max(self.latest() + 1, not_before)
        self._moved[index] = moment
        self._tail.append(pack(moment, index))
        return moment

    def scan(self, *, after: int | None, since: int | None, before: int | None) -> Iterator[int]:
        """Indexes with key > ``after`` and ``since`` <= key < ``before`` (packed keys), in order."""
        base = self._sorted()
        start = 0
        if after is not None:
            start = bisect.bisect_right(base, after)
        if since is not None:
            start = max(start, bisect.bisect_left(base, since))
        for key in itertools.chain(base[start:], list(self._tail)):
            if (after is not None and key <= after) or (since is not None and key < since):
                continue
            if before is not None and key >= before:
                return
            updated_at, index = unpack(key)
            if self.updated_at(index) == updated_at:  # otherwise a stale key of a moved record
                yield index

    def _sorted(self) -> array[int]:
        if self._base is None:
            keys = sorted(pack(self._generated(index), index) for index in range(1, self._count + 1))
            self._base = array("q", keys)
        return self._base
