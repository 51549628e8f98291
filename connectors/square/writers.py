"""Outbound changes to the seller's customer directory: the member number and the member's profile.

``member.loyalty`` sets each customer's ``reference_id`` (Square's "second id … in another system") to the
member number, so a clerk looking a customer up at the till sees which member they are. ``member.profile``
copies the fields the member changed in the hub. Both go through UpdateCustomer, which takes no
``idempotency_key`` (only Square's create endpoints do): each write reads the customer first, sends only the
fields that differ, with the customer's ``version`` for optimistic concurrency. A retried delivery therefore
finds nothing left to change and sends nothing; a customer edited at the till between the read and the write
answers 409, and is read and written again (once; then the delivery is retried later). Messages and errors
name members by id and fields by name, never their values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from connectors.square.client import SquareClient
from core.errors import PermanentError, RetryableError
from core.sync.contract import PROFILE_MESSAGE, STATUS_MESSAGE, OutboundMessage
from core.sync.mapping import rejection_reason

MemberNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
_NAME_SEPARATOR = re.compile(r"[ \u3000]+")
_CONFLICT_ATTEMPTS = 2


class CustomerRefused(PermanentError):
    """One customer's write cannot be made (no such customer); other customers' writes can."""


class _Payload(BaseModel):
    """Keys the hub may add later are ignored, not refused: the payload is ours."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class LoyaltyChange(_Payload):
    """One entry of ``member.loyalty``; only the member number is written to Square (none yet: nothing to write)."""

    member_id: str
    customer_id: str | None = None
    member_number: MemberNumber | None = None


class LoyaltyChanges(_Payload):
    """Payload of ``member.loyalty``: up to 500 changes."""

    changes: Annotated[tuple[LoyaltyChange, ...], Field(max_length=500)]


class ProfileChange(_Payload):
    """Payload of ``member.profile``: the member's current profile and the names of the fields that changed."""

    member_id: str
    customer_id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    address: str | None = None
    birthday: date | None = None
    changed: tuple[str, ...] = ()


_P = TypeVar("_P", bound=_Payload)


class CustomerWriter:
    """Delivers ``member.loyalty`` and ``member.profile`` to one seller through its ``SquareClient``."""

    kinds: tuple[str, ...] = (STATUS_MESSAGE, PROFILE_MESSAGE)

    def __init__(self, instance: str, client: SquareClient) -> None:
        self.instance = instance
        self._client = client
        self._writers: dict[str, Callable[[OutboundMessage], None]] = {
            STATUS_MESSAGE: self._loyalty,
            PROFILE_MESSAGE: self._profile,
        }

    def deliver(self, message: OutboundMessage) -> None:
        """Push one message; ``PermanentError`` for a kind this writer does not know."""
        writer = self._writers.get(message.kind)
        if writer is None:
            raise PermanentError(f"the square connector does not write {message.kind!r} messages")
        writer(message)

    def _loyalty(self, message: OutboundMessage) -> None:
        """Every change is tried; refused customers are reported together after the others went through."""
        changes = _parse(LoyaltyChanges, message).changes
        refused: list[str] = []
        for change in changes:
            if change.customer_id is None or change.member_number is None:
                continue  # the member has no customer at this seller, or no number yet
            try:
                self._update(message.kind, change.member_id, change.customer_id, _reference_id(change.member_number))
            except CustomerRefused as error:
                refused.append(str(error))
        if refused:
            raise PermanentError(f"{len(refused)} of {len(changes)} loyalty changes refused; first: {refused[0]}")

    def _profile(self, message: OutboundMessage) -> None:
        change = _parse(ProfileChange, message)
        if change.customer_id is None:
            return
        self._update(
            message.kind, change.member_id, change.customer_id, lambda current: profile_fields(change, current)
        )

    def _update(
        self, kind: str, member_id: str, customer_id: str, wanted: Callable[[Mapping[str, Any]], dict[str, Any]]
    ) -> None:
        """Read the customer, send the fields that differ with its ``version``; nothing if none differs."""
        for _ in range(_CONFLICT_ATTEMPTS):
            customer = self._client.retrieve_customer(customer_id)
            if customer is None:
                raise CustomerRefused(f"{kind}: member {member_id}'s customer no longer exists at {self.instance}")
            fields = {name: value for name, value in wanted(customer).items() if _differs(customer.get(name), value)}
            if not fields:
                return
            try:
                self._client.update_customer(customer_id, {**fields, "version": customer.get("version")})
                return
            except PermanentError as error:
                if error.status != 409:
                    raise
        raise RetryableError(f"{kind}: member {member_id}'s customer keeps changing at {self.instance}", status=409)


def _reference_id(member_number: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    return lambda _current: {"reference_id": member_number}


def profile_fields(change: ProfileChange, current: Mapping[str, Any]) -> dict[str, Any]:
    """The UpdateCustomer fields for the changed profile fields; ``""`` clears a field, as Square wants.

    The name splits on its first space into family and given name (else all of it is the family name); kana has no
    Square field. The hub keeps an address as one line, so a changed address replaces Square's parts with it.
    """
    fields: dict[str, Any] = {}
    changed = set(change.changed)
    if "name" in changed:
        family, _, given = _NAME_SEPARATOR.sub(" ", (change.name or "").strip()).partition(" ")
        fields.update(family_name=family, given_name=given)
    if "email" in changed:
        fields["email_address"] = change.email or ""
    if "phone" in changed:
        fields["phone_number"] = change.phone or ""
    if "birthday" in changed:
        fields["birthday"] = change.birthday.isoformat() if change.birthday else ""
    if changed & {"address", "postal_code"}:
        fields["address"] = _address(change, current.get("address"), changed)
    return fields


def _address(change: ProfileChange, current: Any, changed: set[str]) -> dict[str, str]:
    address = dict(current) if isinstance(current, Mapping) else {}
    if "address" in changed:
        address = {name: value for name, value in address.items() if name in ("postal_code", "country")}
        if change.address:
            address["address_line_1"] = change.address
    if "postal_code" in changed:
        address["postal_code"] = change.postal_code or ""
    address = {name: value for name, value in address.items() if value}
    return {**address, "country": "JP"} if address else {}


def _differs(current: Any, wanted: Any) -> bool:
    """Whether sending ``wanted`` changes anything (Square leaves cleared fields out of its answers)."""
    if wanted in ("", {}):
        return current not in (None, "", {})
    return bool(current != wanted)


def _parse(model: type[_P], message: OutboundMessage) -> _P:
    try:
        return model.model_validate(message.payload)
    except ValidationError as error:
        raise PermanentError(f"{message.kind} payload invalid: {rejection_reason(error)}") from None
