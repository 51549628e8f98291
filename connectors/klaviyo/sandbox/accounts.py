"""Profile rows, changed the way Klaviyo changes them: attribute patches, new profiles and consent.

Plain functions on one row; ``SandboxState`` calls them under its lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

OPT_OUTS = ("USER_SUPPRESSED", "UNSUBSCRIBE", "SPAM_COMPLAINT")
PATCHABLE = frozenset({"email", "phone_number", "external_id", "first_name", "last_name", "organization", "locale",
                       "title", "image", "location", "properties"})  # fmt: skip


def consent_id(row: Mapping[str, Any]) -> str | None:
    """The consent record a profile yields, named ``<profile id>:email:<decision time>``, if it decided.

    A decision is a subscribe or unsubscribe, or an opt-out suppression (the later one counts); a bounce or
    never having subscribed is no decision.
    """
    marketing = row["attributes"]["subscriptions"]["email"]["marketing"]
    moments = [entry["timestamp"] for entry in marketing["suppression"] if entry["reason"] in OPT_OUTS]
    if marketing["consent"] in ("SUBSCRIBED", "UNSUBSCRIBED") and marketing["consent_timestamp"]:
        moments.append(marketing["consent_timestamp"])
    if not moments:
        return None
    latest = max(datetime.fromisoformat(moment) for moment in moments)
    return f"{row['id']}:email:{latest.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def apply_attributes(row: dict[str, Any], attributes: Mapping[str, Any]) -> None:
    """Patch semantics: an attribute left out is kept, ``None`` clears it; ``properties`` merge key by key."""
    current = row["attributes"]
    for name, value in attributes.items():
        if name == "properties" and isinstance(value, Mapping):
            merged = {**current.get("properties", {}), **value}
            current["properties"] = {key: item for key, item in merged.items() if item is not None}
        else:
            current[name] = value


def new_profile(profile_id: str, attributes: Mapping[str, Any], moment: str) -> dict[str, Any]:
    """A profile created through the API: never subscribed, no properties but those given."""
    marketing = {
        "can_receive_email_marketing": False, "consent": "NEVER_SUBSCRIBED", "consent_timestamp": None,
        "last_updated": None, "method": None, "method_detail": None, "custom_method_detail": None,
        "double_optin": None, "suppression": [], "list_suppressions": [],
    }  # fmt: skip
    blank: dict[str, Any] = {name: None for name in PATCHABLE} | {"properties": {}, "location": {}}
    row = {
        "type": "profile",
        "id": profile_id,
        "attributes": {**blank, "created": moment, "updated": moment, "last_event_date": None,
                       "subscriptions": {"email": {"marketing": marketing}}},
    }  # fmt: skip
    apply_attributes(row, attributes)
    return row


def set_marketing(row: dict[str, Any], consent: str, moment: str) -> None:
    """Record a subscribe or an unsubscribe at ``moment``; a subscribe lifts opt-out suppressions."""
    marketing = row["attributes"]["subscriptions"]["email"]["marketing"]
    if consent == "SUBSCRIBED":
        marketing["suppression"] = [entry for entry in marketing["suppression"] if entry["reason"] not in OPT_OUTS]
    marketing.update(consent=consent, consent_timestamp=moment, last_updated=moment, method="API")
    marketing["can_receive_email_marketing"] = consent == "SUBSCRIBED" and not marketing["suppression"]
