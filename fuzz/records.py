"""A page item as fuzzer bytes, for the mapping targets: the mapper's name on the first line, then the raw JSON.

``map_record`` promises a canonical record or a ``Rejected`` for any JSON the API may send, so a mapping target
accepts no exception at all. Bytes that are not JSON never reach a mapper (the client refuses the page first).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from core.sync.mapping import RecordMapper, map_record


def record_parser(source: str, mappers: Mapping[str, RecordMapper]) -> Callable[[bytes], object]:
    """``parse(data)`` that maps the JSON after the first line with the mapper that line names."""

    def parse(data: bytes) -> object:
        name, _, text = data.partition(b"\n")
        mapper = mappers.get(name.decode("latin-1"))
        if mapper is None:
            return None
        try:
            item = json.loads(text)
        except (ValueError, RecursionError):
            return None
        return map_record(source, item, mapper)

    return parse


def record_seeds(items: Iterable[tuple[str, Any]]) -> Iterator[bytes]:
    """``(mapper name, raw item)`` pairs as inputs."""
    for name, item in items:
        yield name.encode() + b"\n" + json.dumps(item, ensure_ascii=False).encode()
