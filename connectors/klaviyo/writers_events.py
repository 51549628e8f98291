"""``coupon.issued`` and ``points.expiring`` as custom events, which trigger Klaviyo flows (the emails).

The event's ``unique_id`` is the message's idempotency key: Klaviyo keeps one event per id, so a retried
delivery never sends the member a second email.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from connectors.klaviyo.client import KlaviyoClient
from connectors.klaviyo.config import KlaviyoConfig
from connectors.klaviyo.payloads import CouponIssued, PointsExpiring, parse_payload, profile_of
from core.errors import PermanentError
from core.sync.contract import OutboundMessage


def write_coupon_issued(
    client: KlaviyoClient, config: KlaviyoConfig, message: OutboundMessage, now: Callable[[], datetime]
) -> None:
    """Track the coupon on the member's profile; an expired coupon is not announced."""
    coupon = parse_payload(CouponIssued, message)
    profile_id = profile_of(message.kind, coupon.member_id, coupon.customer_id)
    if coupon.expires_at is not None and coupon.expires_at <= now():
        raise PermanentError(f"{message.kind}: the coupon of member {coupon.member_id} expired before delivery")
    properties = coupon.model_dump(mode="json", exclude={"customer_id"})
    client.create_event(
        metric=config.coupon_metric,
        profile_id=profile_id,
        properties=properties,
        unique_id=message.idempotency_key,
        time=coupon.issued_at.isoformat(),
    )


def write_points_expiring(
    client: KlaviyoClient, config: KlaviyoConfig, message: OutboundMessage, now: Callable[[], datetime]
) -> None:
    """Track the expiry notice on the member's profile; a notice for points already lapsed is dropped."""
    notice = parse_payload(PointsExpiring, message)
    profile_id = profile_of(message.kind, notice.member_id, notice.customer_id)
    moment = now()
    if notice.expires_at <= moment:
        raise PermanentError(f"{message.kind}: the points of member {notice.member_id} lapsed before delivery")
    client.create_event(
        metric=config.points_expiring_metric,
        profile_id=profile_id,
        properties=notice.model_dump(mode="json", exclude={"customer_id"}),
        unique_id=message.idempotency_key,
        time=moment.isoformat(),
    )
