"""Outbound changes the Example API accepts, one function per kind of outbox message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from connectors.example.client import ExampleClient
from core.errors import PermanentError
from core.records import ExternalId
from core.sync.contract import OutboundMessage
from core.sync.mapping import rejection_reason

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class MemberTags(BaseModel):
    """Payload of ``member.tags``: the member's customer id in this system and their full set of tags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: ExternalId
    tags: Annotated[tuple[Tag, ...], Field(max_length=20)]


def write_member_tags(client: ExampleClient, message: OutboundMessage) -> None:
    """PUT the tags; the outbox's idempotency key makes a retried delivery a no-op at the API."""
    try:
        payload = MemberTags.model_validate(message.payload)
    except ValidationError as error:
        raise PermanentError(f"member.tags payload invalid: {rejection_reason(error)}") from None
    client.put_tags(payload.customer_id, payload.tags, idempotency_key=message.idempotency_key)


WRITERS: dict[str, Callable[[ExampleClient, OutboundMessage], None]] = {"member.tags": write_member_tags}
