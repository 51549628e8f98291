"""Broken pages as this API breaks them, served for an injected ``garbage`` fault (``connectors.sandbox_faults``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any


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
