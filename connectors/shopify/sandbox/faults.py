"""Faults the sandbox can be told to inject, queued and consumed one GraphQL request at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["fail", "hang", "throttle", "garbage"]


@dataclass
class Fault:
    """``remaining`` more requests get this fault."""

    kind: FaultKind
    remaining: int
    status: int = 503
    seconds: float = 0.0


def corrupt_connections(data: Any) -> None:
    """Break the first objects of every connection in ``data`` in place, the way real feeds break."""
    if isinstance(data, dict):
        nodes = data.get("nodes") or [edge.get("node") for edge in data.get("edges") or [] if isinstance(edge, dict)]
        for node, breaker in zip(nodes, _BREAKERS, strict=False):
            if isinstance(node, dict):
                breaker(node)
        for value in data.values():
            corrupt_connections(value)
    elif isinstance(data, list):
        for item in data:
            corrupt_connections(item)


def _null_id(node: dict[str, Any]) -> None:
    if "id" in node:
        node["id"] = None


def _unreadable_timestamp(node: dict[str, Any]) -> None:
    if "updatedAt" in node:
        node["updatedAt"] = "昨日"


def _amount_in_words(node: dict[str, Any]) -> None:
    for key in ("totalPriceSet", "currentTotalPriceSet"):
        if isinstance(node.get(key), dict):
            node[key]["shopMoney"]["amount"] = "千円"
    if "email" in node:
        node["email"] = 12345


_BREAKERS = (_null_id, _unreadable_timestamp, _amount_in_words)
