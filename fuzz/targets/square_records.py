"""Square POS customers and orders, as SearchCustomers / SearchOrders return them, through the streams' mappers."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.square.config import SquareConfig
from connectors.square.streams import STREAMS
from fuzz.records import record_parser, record_seeds
from fuzz.seeds import square_seller
from fuzz.target import FuzzTarget

_CONFIG = SquareConfig(store_codes={"L88917AVBK2S5": "shibuya"})
parse = record_parser("square-fuzz", {name: stream.mapper(_CONFIG) for name, stream in STREAMS.items()})


def seeds() -> Iterator[bytes]:
    """The sandbox seller's customers and orders (refunds, discounts, open tickets among them)."""
    seller = square_seller()
    yield from record_seeds([("customers", seller.customer(index)) for index in range(1, 5)])
    yield from record_seeds([("orders", seller.order(index)) for index in range(1, 13)])


TARGET = FuzzTarget("square_records", parse, (), seeds, "records")
