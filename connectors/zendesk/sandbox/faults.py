"""Faults the sandbox can be told to inject, queued and consumed one request at a time."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["fail", "throttle", "hang", "garbage", "non_json"]
BEFORE_AUTH: frozenset[FaultKind] = frozenset({"fail", "throttle", "hang"})
"""Faults of the network and gateway, answered before the credentials are even looked at."""
ON_EXPORT_PAGES: frozenset[FaultKind] = frozenset({"garbage", "non_json"})
"""Faults of the page body, applied only to export pages that answered 200."""


@dataclass
class Fault:
    """``remaining`` more requests (under ``path``, if set) get this fault."""

    kind: FaultKind
    remaining: int
    status: int = 503
    retry_after: int = 1
    seconds: float = 0.0
    path: str | None = None

    def matches(self, kinds: frozenset[FaultKind], path: str) -> bool:
        """Whether this fault applies to a request for ``path`` at the stage that handles ``kinds``."""
        return self.kind in kinds and self.remaining > 0 and (self.path is None or path.startswith(self.path))


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
