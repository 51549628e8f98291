"""``member.consent`` as a Klaviyo subscribe or unsubscribe, never overturning a newer decision there.

The profile is read first: when Klaviyo holds a decision as new as the message's or newer (a consent, or an
unsubscribe suppression), nothing is written, so a delayed or retried delivery never undoes what the
customer chose in Klaviyo. A subscribe is sent as a historical import with ``consented_at`` = the hub's
``changed_at``, so Klaviyo records when the customer chose, and reading it back is no newer decision.
"""

from __future__ import annotations

from connectors.klaviyo.client import KlaviyoClient
from connectors.klaviyo.config import KlaviyoConfig
from connectors.klaviyo.mapping import WireProfile, email_consent
from connectors.klaviyo.payloads import MemberConsent, parse_payload, profile_of
from core.errors import PermanentError
from core.sync.contract import OutboundMessage


def write_member_consent(client: KlaviyoClient, config: KlaviyoConfig, message: OutboundMessage) -> None:
    """Subscribe (to the newsletter list, if configured) or unsubscribe the member's profile."""
    consent = parse_payload(MemberConsent, message)
    if consent.channel != "email":
        raise PermanentError(f"{message.kind}: channel {consent.channel!r} is not mapped to Klaviyo")
    profile_id = profile_of(message.kind, consent.member_id, consent.customer_id)
    try:
        profile = WireProfile.model_validate(client.get_profile(profile_id))
    except ValueError:
        raise PermanentError(f"{message.kind}: Klaviyo answered with a profile that does not validate") from None
    email = profile.attributes.email
    if email is None:
        raise PermanentError(f"{message.kind}: the profile of member {consent.member_id} has no email address")
    held = email_consent(profile)
    if held is not None and held[1] >= consent.changed_at:
        return
    if consent.subscribed:
        changed_at = consent.changed_at.isoformat()
        client.subscribe(profile_id=profile.id, email=email, consented_at=changed_at, list_id=config.list_id)
    else:
        client.unsubscribe(email=email, list_id=None)
