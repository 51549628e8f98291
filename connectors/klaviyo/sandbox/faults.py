"""Faults the sandbox can be told to inject, queued and consumed one request at a time."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["fail", "throttle", "hang", "garbage", "non_json"]
BEFORE_AUTH: frozenset[FaultKind] = frozenset({"fail", "throttle", "hang"})
"""Faults of the network and gateway, answered before the key is even looked at."""
ON_PAGES: frozenset[FaultKind] = frozenset({"garbage", "non_json"})
"""Faults of the page body, applied only to profile and event pages that answered 200."""


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


def corrupt_page(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of a page whose first three resources are broken the way real APIs break; the rest stay valid."""
    served = copy.deepcopy(resources)
    for resource, breaker in zip(served, _BREAKERS, strict=False):
        breaker(resource)
    return served


def _drop_id(resource: dict[str, Any]) -> None:
    resource.pop("id", None)


def _unreadable_timestamp(resource: dict[str, Any]) -> None:
    attributes = resource["attributes"]
    attributes["updated" if resource["type"] == "profile" else "datetime"] = "昨日"


def _wrong_type_or_no_owner(resource: dict[str, Any]) -> None:
    if resource["type"] == "profile":
        resource["attributes"]["email"] = 12345
    else:
        resource["relationships"].pop("profile", None)


_BREAKERS: tuple[Callable[[dict[str, Any]], None], ...] = (_drop_id, _unreadable_timestamp, _wrong_type_or_no_owner)
