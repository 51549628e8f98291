"""Faults the sandbox can be told to inject, queued and consumed one request at a time."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["fail", "throttle", "hang", "garbage", "non_json"]
BEFORE_AUTH: frozenset[FaultKind] = frozenset({"fail", "throttle", "hang"})
"""Faults of the network and gateway, answered before the token is looked at."""
ON_SEARCH_PAGES: frozenset[FaultKind] = frozenset({"garbage", "non_json"})
"""Faults of a search answer: broken records, or a maintenance page instead of JSON."""


@dataclass
class Fault:
    """``remaining`` more requests get this fault."""

    kind: FaultKind
    remaining: int
    status: int = 503
    seconds: float = 0.0


def corrupt(stream: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of ``rows`` whose first three are broken the way real feeds break; the rest stay valid."""
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
    row["email_address"] = 12345


def _total_in_words(row: dict[str, Any]) -> None:
    row["total_money"] = {"amount": "千円", "currency": "JPY"}


def _negative_quantity(row: dict[str, Any]) -> None:
    row["line_items"][0]["quantity"] = "-2"


_CUSTOMER_BREAKERS = (_drop_id, _unreadable_timestamp, _email_as_number)
_ORDER_BREAKERS = (_drop_id, _total_in_words, _negative_quantity)
