"""Profile writes: ``member.loyalty`` (properties), ``member.segments`` (lists), ``member.profile`` (fields).

Klaviyo has no tags: segments are lists (``segment_lists`` maps codes to list ids) and the member's status is
a handful of prefixed properties, which flows and templates can read. Every write is idempotent, which
stands in for an idempotency key Klaviyo's profile endpoints do not take.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from connectors.klaviyo.client import KlaviyoClient
from connectors.klaviyo.config import KlaviyoConfig
from connectors.klaviyo.payloads import (
    LoyaltyEntry,
    MemberLoyalty,
    MemberProfile,
    MemberSegments,
    parse_payload,
    profile_of,
)
from core.errors import PermanentError
from core.sync.contract import OutboundMessage


def write_member_loyalty(client: KlaviyoClient, config: KlaviyoConfig, message: OutboundMessage) -> None:
    """PATCH each linked member's properties; a profile deleted in Klaviyo meanwhile is skipped."""
    payload = parse_payload(MemberLoyalty, message)
    for entry in payload.changes:
        if entry.customer_id is None:
            continue
        try:
            client.patch_profile(entry.customer_id, loyalty_properties(entry, config.property_prefix))
        except PermanentError as error:
            if error.status != 404:
                raise


def loyalty_properties(entry: LoyaltyEntry, prefix: str) -> dict[str, Any]:
    """The properties a member's status sets; ``None`` clears a value Klaviyo still holds.

    The rank's benefit flags go to ``<prefix>benefits`` as a list (Klaviyo properties take lists), which a
    flow or template tests with "contains" (``priority_reservation``).
    """
    benefits = {} if entry.flags is None else {f"{prefix}benefits": list(entry.flags)}
    return benefits | {
        f"{prefix}member_number": entry.member_number,
        f"{prefix}rank": entry.rank,
        f"{prefix}points": entry.points_available,
        f"{prefix}points_pending": entry.points_pending,
        f"{prefix}segments": list(entry.segments),
        f"{prefix}expiring_points": entry.expiring_points,
        f"{prefix}points_expire_at": entry.expiring_at.isoformat() if entry.expiring_at else None,
    }


def write_member_segments(client: KlaviyoClient, config: KlaviyoConfig, message: OutboundMessage) -> None:
    """Add profiles to the lists of segments joined and remove them from those of segments left.

    A list that another of the member's segments still maps to is kept. One request per list and direction.
    """
    payload = parse_payload(MemberSegments, message)
    lists = config.segment_lists
    additions: dict[str, list[str]] = defaultdict(list)
    removals: dict[str, list[str]] = defaultdict(list)
    for change in payload.changes:
        if change.customer_id is None:
            continue
        kept = {lists[code] for code in change.segments if code in lists}
        for list_id in dict.fromkeys(lists[code] for code in change.joined if code in lists):
            additions[list_id].append(change.customer_id)
        for list_id in dict.fromkeys(lists[code] for code in change.left if code in lists):
            if list_id not in kept:
                removals[list_id].append(change.customer_id)
    for list_id, profile_ids in removals.items():
        client.change_list_members(list_id, profile_ids, add=False)
    for list_id, profile_ids in additions.items():
        client.change_list_members(list_id, profile_ids, add=True)


def write_member_profile(client: KlaviyoClient, config: KlaviyoConfig, message: OutboundMessage) -> None:
    """PATCH the fields the hub changed; a name without a space between family and given name is not split."""
    payload = parse_payload(MemberProfile, message)
    profile_id = profile_of(message.kind, payload.member_id, payload.customer_id)
    attributes = profile_attributes(payload, config)
    if attributes:
        client.patch_profile_attributes(profile_id, attributes)


def profile_attributes(payload: MemberProfile, config: KlaviyoConfig) -> dict[str, Any]:
    """Klaviyo attributes for the changed fields: the address goes whole into ``address1``."""
    changed, attributes = set(payload.changed), dict[str, Any]()
    names = payload.name.split(maxsplit=1) if payload.name else []
    if "name" in changed and (len(names) == 2 or payload.name is None):
        attributes["last_name"], attributes["first_name"] = (names[0], names[1]) if names else (None, None)
    attributes |= {target: getattr(payload, field) for field, target in _PLAIN.items() if field in changed}
    location: dict[str, str | None] = {"zip": payload.postal_code} if "postal_code" in changed else {}
    if "address" in changed:
        location |= {"address1": payload.address, "address2": None, "city": None, "region": None}
    if location:
        attributes["location"] = location
    properties: dict[str, str | None] = {}
    if "kana" in changed and config.kana_property:
        properties[config.kana_property] = payload.kana
    if "birthday" in changed and config.birthday_property:
        properties[config.birthday_property] = payload.birthday.isoformat() if payload.birthday else None
    if properties:
        attributes["properties"] = properties
    return attributes


_PLAIN = {"email": "email", "phone": "phone_number"}
