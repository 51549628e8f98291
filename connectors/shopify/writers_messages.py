"""What the Shopify writers share: payloads validated at the edge, the customer a message is for, and refusals.

Every refusal names the member by id and the customer by nothing at all: messages end up in the outbox's
``last_error`` and in logs, so they carry no personal data (and no coupon code, which is a bearer secret).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import PermanentError
from core.sync.contract import OutboundMessage
from core.sync.mapping import rejection_reason

_CUSTOMER_ID = re.compile(r"^gid://shopify/Customer/\d+$")


class CustomerRefused(PermanentError):
    """One customer's write cannot be made (no Shopify customer, a userError); other customers' writes can."""


class MessagePayload(BaseModel):
    """Base of the payload models: keys the hub may add later are ignored, not refused (the payload is ours)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


_P = TypeVar("_P", bound=MessagePayload)


def parse_payload(model: type[_P], message: OutboundMessage) -> _P:
    """The message's payload as ``model``; a ``PermanentError`` naming the fields and rules it breaks."""
    try:
        return model.model_validate(message.payload)
    except ValidationError as error:
        raise PermanentError(f"{message.kind} payload invalid: {rejection_reason(error)}") from None


def shopify_customer(kind: str, instance: str, member_id: UUID, customer_id: str | None) -> str:
    """The Shopify customer a message is for; ``CustomerRefused`` if it names none, or no Shopify customer id."""
    if customer_id is None:
        raise CustomerRefused(f"{kind}: member {member_id} has no customer in shop {instance}")
    if not _CUSTOMER_ID.fullmatch(customer_id):
        raise CustomerRefused(f"{kind}: the customer id of member {member_id} is not a Shopify customer id")
    return customer_id


def user_errors(payload: Any) -> list[Mapping[str, Any]]:
    """The ``userErrors`` of a mutation payload that has them."""
    errors = payload.get("userErrors") if isinstance(payload, Mapping) else None
    return [error for error in errors or () if isinstance(error, Mapping)]


def raise_user_errors(kind: str, part: str, payload: Any, *, secret: str | None = None) -> None:
    """Refuse a write Shopify answered with userErrors (or without its payload, after a top-level error).

    The inputs carry no personal data (ids, tags, codes of the rules, numbers, dates), so a userError's field
    and message, which can only echo them, are safe to keep; ``secret`` (a coupon code) is blanked out of the
    message all the same, and the message is cut short.
    """
    if not isinstance(payload, Mapping):
        raise CustomerRefused(f"{kind}: Shopify answered the {part} write without its payload")
    errors = payload.get("userErrors") or []
    if errors:
        first = errors[0] if isinstance(errors[0], Mapping) else {}
        field = ".".join(str(step) for step in first.get("field") or ()) or "-"
        code = f" [{first['code']}]" if first.get("code") else ""
        message = str(first.get("message", ""))[:200]
        if secret:
            message = re.sub(re.escape(secret), "<code>", message, flags=re.IGNORECASE)
        raise CustomerRefused(f"{kind}: Shopify refused the {part} write: {field}{code}: {message}")
