"""The Example API's customers and orders through the streams' mappers."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.example.streams import STREAMS
from fuzz.records import record_parser, record_seeds
from fuzz.seeds import example_rows
from fuzz.target import FuzzTarget

parse = record_parser("example-fuzz", {name: stream.mapper for name, stream in STREAMS.items()})


def seeds() -> Iterator[bytes]:
    """The sandbox account's customers and orders."""
    rows = example_rows()
    yield from record_seeds([(name, row) for name in ("customers", "orders") for row in rows[name]])


TARGET = FuzzTarget("example_records", parse, (), seeds, "records")
