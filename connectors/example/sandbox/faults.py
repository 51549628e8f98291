"""Broken pages as this API breaks them, served for an injected ``garbage`` fault (``connectors.sandbox_faults``)."""

from __future__ import annotations

import copy
from typing import Any


def corrupt_page(stream: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of ``rows`` whose first three are broken the way real APIs break; the rest stay valid."""
    served = copy.deepcopy(rows)
    breakers = _ORDER_BREAKERS if stream == "orders" else _CUSTOMER_BREAKERS
    for row, breaker in zip(served, breakers, strict=False):
        breaker(row)
    return served


def _drop_id(row: dict[str, Any]) -> None:
    row.pop("id", None)


def _unreadable_timestamp(row: dict[str, Any]) -> None:
    row["updated_at"] = "昨日"


def _email_as_number(row: dict[str, Any]) -> None:
    row["email"] = 12345


def _total_as_words(row: dict[str, Any]) -> None:
    row["total"] = "千円"


def _negative_quantity(row: dict[str, Any]) -> None:
    row["line_items"][0]["quantity"] = -2


_CUSTOMER_BREAKERS = (_drop_id, _unreadable_timestamp, _email_as_number)
_ORDER_BREAKERS = (_drop_id, _total_as_words, _negative_quantity)
