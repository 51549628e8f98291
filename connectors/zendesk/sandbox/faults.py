"""Broken pages as this API breaks them, served for an injected ``garbage`` fault (``connectors.sandbox_faults``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any


def corrupt_rows(resource: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of ``rows`` whose first three customers or tickets are broken the way real exports break."""
    served = copy.deepcopy(rows)
    breakers = _TICKET_BREAKERS if resource == "tickets" else _USER_BREAKERS
    customers = [row for row in served if row.get("role", "end-user") == "end-user"]  # not the agents
    for row, breaker in zip(customers, breakers, strict=False):
        breaker(row)
    return served


def _drop_id(row: dict[str, Any]) -> None:
    row.pop("id", None)


def _unreadable_timestamp(row: dict[str, Any]) -> None:
    row["updated_at"] = "昨日"


def _email_as_number(row: dict[str, Any]) -> None:
    row["email"] = 12345


def _requester_as_name(row: dict[str, Any]) -> None:
    row["requester_id"] = "山田様"


def _unknown_status(row: dict[str, Any]) -> None:
    row["status"] = "対応中"


_USER_BREAKERS: tuple[Callable[[dict[str, Any]], None], ...] = (_drop_id, _unreadable_timestamp, _email_as_number)
_TICKET_BREAKERS: tuple[Callable[[dict[str, Any]], None], ...] = (_drop_id, _requester_as_name, _unknown_status)
