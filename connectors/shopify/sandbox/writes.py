"""Customer tags and metafields written through the Admin API, checked the way Shopify checks them.

``tagsAdd`` adds (a tag already there stays once), ``tagsRemove`` removes (an absent tag is no error); each
string may hold several comma-separated tags, as Shopify accepts, and a change bumps the customer's
``updatedAt`` (shopify.dev ``tagsAdd``). A customer holds at most 250 tags of at most 255 characters (◐: the
250 limit is documented for products; the messages are the sandbox's). An id that is not a global id is a
top-level ``invalid id`` error (◐ forum); a global id of no customer is a userError on ``id``.

``metafieldsSet`` sets at most 25 metafields a call, atomically: with any userError nothing is set. A
namespace has 3–255 and a key 2–64 letters, digits, ``-`` or ``_``; no namespace means the app-reserved one;
a new metafield needs a ``type``; the value must fit the type (shopify.dev ``MetafieldsSetInput``,
``MetafieldsSetUserErrorCode``).

``customerEmailMarketingConsentUpdate`` records a customer's email consent: only ``SUBSCRIBED``,
``UNSUBSCRIBED`` and ``PENDING`` may be set, and only on a customer with an email address (shopify.dev); the
consent is read back through ``Customer.emailMarketingConsent``, and without ``consentUpdatedAt`` it is dated
now. It bumps the customer's ``updatedAt``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from connectors.shopify.sandbox.data import iso_utc

if TYPE_CHECKING:  # the records hold the discounts, whose module imports this one
    from connectors.shopify.sandbox.records import ShopRecords

MAX_TAGS = 250
MAX_TAG_LENGTH = 255
MAX_METAFIELDS = 25
SETTABLE_CONSENT_STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING")
APP_NAMESPACE = "app--sandbox"
"""Where a metafield set without a namespace lives (Shopify: ``app--<app id>``, reserved to the app)."""

_GLOBAL_ID = re.compile(r"^gid://shopify/[A-Za-z]+/\d+$")
_HANDLE = re.compile(r"^[A-Za-z0-9_-]+$")
_INTEGER_LIMIT = 9_007_199_254_740_991


def tags_add(records: ShopRecords, customer_id: str, tags: Sequence[str]) -> dict[str, Any]:
    """``TagsAddPayload``: the customer with ``tags`` added, or userErrors and no change."""
    index = customer_index(records, customer_id)
    if index is None:
        return _no_customer()
    held = records.customer(index)["tags"]
    added = [tag for tag in dict.fromkeys(split_tags(tags)) if tag not in held]
    too_long = [tag for tag in added if len(tag) > MAX_TAG_LENGTH]
    if too_long:
        return _refused(["tags"], f"Tag is too long (maximum is {MAX_TAG_LENGTH} characters)")
    if len(held) + len(added) > MAX_TAGS:
        return _refused(["tags"], f"Customer can't have more than {MAX_TAGS} tags")
    if added:
        records.update_customer(index, tags=[*held, *added])
    return {"node": records.customer(index), "userErrors": []}


def tags_remove(records: ShopRecords, customer_id: str, tags: Sequence[str]) -> dict[str, Any]:
    """``TagsRemovePayload``: the customer without ``tags`` (absent ones ignored), or a userError."""
    index = customer_index(records, customer_id)
    if index is None:
        return _no_customer()
    held = records.customer(index)["tags"]
    unwanted = set(split_tags(tags))
    if unwanted & set(held):
        records.update_customer(index, tags=[tag for tag in held if tag not in unwanted])
    return {"node": records.customer(index), "userErrors": []}


def split_tags(tags: Iterable[str]) -> list[str]:
    """Tags as Shopify reads them: each string split on commas, trimmed, blanks dropped."""
    return [part.strip() for tag in tags for part in tag.split(",") if part.strip()]


def metafields_set(records: ShopRecords, inputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``MetafieldsSetPayload``: every metafield set, or the userErrors and none of them."""
    if len(inputs) > MAX_METAFIELDS:
        message = f"Exceeded the maximum metafields input limit of {MAX_METAFIELDS}."
        error = {"field": ["metafields"], "message": message, "code": "LESS_THAN_OR_EQUAL_TO", "elementIndex": None}
        return {"metafields": None, "userErrors": [error]}
    owners = [customer_index(records, item.get("ownerId")) for item in inputs]
    errors = [error for position, item in enumerate(inputs) for error in _check(records, position, item, owners)]
    if errors:
        return {"metafields": None, "userErrors": errors}
    written = [
        records.set_metafield(owner, _namespace(item), item["key"], _type(records, owner, item), item["value"])
        for owner, item in zip(owners, inputs, strict=True)
        if owner is not None
    ]
    return {"metafields": written, "userErrors": []}


def customer_email_marketing_consent_update(records: ShopRecords, item: Mapping[str, Any]) -> dict[str, Any]:
    """``CustomerEmailMarketingConsentUpdatePayload``: the customer with the consent recorded, or a userError."""
    index = customer_index(records, item["customerId"])
    consent = item["emailMarketingConsent"]
    if index is None:
        return _consent_refused(["customerId"], "INVALID", "Customer does not exist")
    if records.customer(index)["email"] is None:
        return _consent_refused(["customerId"], "INVALID", "Customer must have an email address")
    if consent["marketingState"] not in SETTABLE_CONSENT_STATES:
        states = ", ".join(SETTABLE_CONSENT_STATES)
        return _consent_refused(["emailMarketingConsent", "marketingState"], "INCLUSION", f"must be one of {states}")
    updated_at = datetime_input(consent.get("consentUpdatedAt"))
    if consent.get("consentUpdatedAt") is not None and updated_at is None:
        return _consent_refused(["emailMarketingConsent", "consentUpdatedAt"], "INVALID", "is not a date and time")
    stamp = iso_utc(int(updated_at.timestamp()) if updated_at else records.touch("customers", index))
    state = {"marketingState": consent["marketingState"], "marketingOptInLevel": consent.get("marketingOptInLevel"),
             "consentUpdatedAt": stamp}  # fmt: skip
    records.update_customer(index, email_marketing_consent=state)
    return {"customer": records.customer(index), "userErrors": []}


def customer_metafield(records: ShopRecords, customer_id: str, namespace: str | None, key: str) -> Any:
    """``Customer.metafield``: the customer's metafield, or ``None``."""
    index = records.index_of("customers", customer_id)
    return None if index is None else records.metafield(index, namespace or APP_NAMESPACE, key)


def _check(
    records: ShopRecords, position: int, item: Mapping[str, Any], owners: Sequence[int | None]
) -> Iterable[dict[str, Any]]:
    """The userErrors of one input (``elementIndex`` is its position)."""

    def error(field: str, code: str, message: str) -> dict[str, Any]:
        return {"field": ["metafields", str(position), field], "message": message, "code": code,
                "elementIndex": position}  # fmt: skip

    owner = owners[position]
    if owner is None:
        yield error("ownerId", "INVALID", "Owner does not exist.")
        return
    namespace, key = _namespace(item), item["key"]
    yield from (error("namespace", code, message) for code, message in _handle_errors(namespace, 3, 255))
    yield from (error("key", code, message) for code, message in _handle_errors(key, 2, 64))
    known = records.metafield(owner, namespace, key)
    type_ = item.get("type") or (known["type"] if known else None)
    if type_ is None:
        yield error("type", "BLANK", "Type can't be blank.")
    elif type_ not in _VALUE_CHECKS:
        yield error("type", "INVALID_TYPE", f"Type '{type_}' is not a valid type.")
    elif known is not None and known["type"] != type_:
        yield error("type", "INVALID_TYPE", f"Type must be '{known['type']}', the type of the existing metafield.")
    elif not _VALUE_CHECKS[type_](item["value"]):
        yield error("value", "INVALID_VALUE", f"Value is invalid for the type {type_}.")


def _handle_errors(text: str, shortest: int, longest: int) -> list[tuple[str, str]]:
    if len(text) < shortest:
        return [("TOO_SHORT", f"is too short (minimum is {shortest} characters)")]
    if len(text) > longest:
        return [("TOO_LONG", f"is too long (maximum is {longest} characters)")]
    if not _HANDLE.fullmatch(text):
        return [("INVALID", "can only contain alphanumeric characters, hyphens and underscores")]
    return []


def _is_integer(value: str) -> bool:
    return re.fullmatch(r"-?\d{1,16}", value) is not None and abs(int(value)) <= _INTEGER_LIMIT


def _is_decimal(value: str) -> bool:
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


_VALUE_CHECKS = {
    "single_line_text_field": lambda value: "\n" not in value and "\r" not in value,
    "multi_line_text_field": lambda value: True,
    "number_integer": _is_integer,
    "number_decimal": _is_decimal,
    "boolean": lambda value: value in ("true", "false"),
    "json": _is_json,
}
"""The metafield types the sandbox knows, each with the check its values must pass."""


def _namespace(item: Mapping[str, Any]) -> str:
    namespace = item.get("namespace")
    return namespace if isinstance(namespace, str) else APP_NAMESPACE


def _type(records: ShopRecords, owner: int, item: Mapping[str, Any]) -> str:
    known = records.metafield(owner, _namespace(item), item["key"])
    return str(item.get("type") or (known or {}).get("type"))


def customer_index(records: ShopRecords, global_id: Any) -> int | None:
    """The customer behind a global id; a string that is no global id at all is a top-level error."""
    if not isinstance(global_id, str) or not _GLOBAL_ID.fullmatch(global_id):
        raise GraphQLError("invalid id")
    return records.index_of("customers", global_id)


def datetime_input(value: Any) -> datetime | None:
    """A ``DateTime`` argument as a moment, or ``None`` if absent, unreadable or without an offset."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _consent_refused(field: list[str], code: str, message: str) -> dict[str, Any]:
    return {"customer": None, "userErrors": [{"field": ["input", *field], "message": message, "code": code}]}


def _no_customer() -> dict[str, Any]:
    return _refused(["id"], "Customer does not exist")


def _refused(field: list[str], message: str) -> dict[str, Any]:
    return {"node": None, "userErrors": [{"field": field, "message": message}]}
