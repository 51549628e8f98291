"""The streams of a Zendesk account, declared: what each yields and how its incremental export is asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.records import Inquiry, Profile
from core.sync.contract import StreamSpec


@dataclass(frozen=True)
class ZendeskStream:
    """A stream's declaration plus its export: the resource (``users``/``tickets``) and extra query parameters.

    ``roles`` keeps only users of those roles (the export holds agents too, who are not customers).
    """

    spec: StreamSpec
    resource: str
    params: Mapping[str, Any] = field(default_factory=dict)
    roles: frozenset[str] | None = None


USERS = ZendeskStream(
    StreamSpec(name="users", record_type=Profile, cursor_field="updated_at", primary_key="id"),
    resource="users",
    roles=frozenset({"end-user"}),
)
TICKETS = ZendeskStream(
    StreamSpec(name="tickets", record_type=Inquiry, cursor_field="updated_at", primary_key="id"),
    resource="tickets",
    # Deleted tickets would come back with status "deleted", which no inquiry has; solved_at is in the metrics.
    params={"exclude_deleted": "true", "include": "metric_sets"},
)
STREAMS: dict[str, ZendeskStream] = {stream.spec.name: stream for stream in (USERS, TICKETS)}
