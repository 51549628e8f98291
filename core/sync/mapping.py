"""Mapping a page of raw API objects to canonical records, for connector authors.

A mapper turns one raw object into a record and raises pydantic's ``ValidationError`` when it does not fit;
``map_records`` keeps the page's order and turns each misfit into a ``Rejected`` (quarantined by the engine)
whose reason names fields and rules, never values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from core.records import CanonicalRecord
from core.sync.contract import Rejected

RecordMapper = Callable[[str, Any], CanonicalRecord]
"""``(source, raw API object) -> record``; raises ``ValidationError`` when the object does not fit."""
ExternalIdOf = Callable[[Mapping[str, Any]], "str | None"]
"""Where a raw object keeps its id, for the ``Rejected`` of an object that does not fit."""

_MAX_REASONS = 3


def id_field(item: Mapping[str, Any]) -> str | None:
    """The object's ``id`` (a string or an integer), the usual place."""
    value = item.get("id")
    return str(value) if isinstance(value, str | int) and str(value).strip() else None


def map_records(
    source: str, items: Iterable[Any], mapper: RecordMapper, *, external_id: ExternalIdOf = id_field
) -> list[CanonicalRecord | Rejected]:
    """Map every item of a page; the ones that do not fit are returned as ``Rejected``, in place."""
    return [map_record(source, item, mapper, external_id=external_id) for item in items]


def map_record(
    source: str, item: Any, mapper: RecordMapper, *, external_id: ExternalIdOf = id_field
) -> CanonicalRecord | Rejected:
    """One item as a record, or as a ``Rejected`` carrying the item as JSON text."""
    if not isinstance(item, Mapping):
        return Rejected(None, "record is not a JSON object", _json_text(item))
    try:
        return mapper(source, item)
    except ValidationError as error:
        return Rejected(external_id(item), rejection_reason(error), _json_text(item))


def rejection_reason(error: ValidationError) -> str:
    """``field: rule`` for the first few errors; pydantic's messages name the rule, never the input."""
    parts = [
        f"{'.'.join(str(part) for part in detail['loc']) or 'record'}: {detail['msg']}"
        for detail in error.errors(include_url=False, include_input=False, include_context=False)[:_MAX_REASONS]
    ]
    more = error.error_count() - _MAX_REASONS
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _json_text(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False, default=str)
