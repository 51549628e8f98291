"""New coupons told to their template's ``email_destination``: one ``coupon.issued`` outbox message each.

Written by ``CouponIssuer`` in the transaction that issues the coupons, whatever issued them (a survey rule,
the birthday job), so a coupon is never stored without its message nor sent without being stored. The key
``coupon:<coupon id>:email`` is unique per coupon: issuing again for the same source event returns the stored
coupon, which is not new and is not told again.

Payloads name the member by id and by customer id in the destination (the destination holds the address),
never by name or address; they are sealed in the outbox and never logged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Connection

from core.errors import ConfigError
from core.store import coupons as coupons_repo
from core.store import loyalty as loyalty_repo
from core.sync import outbox
from core.sync.contract import COUPON_MESSAGE
from core.sync.payloads import PayloadSealer

if TYPE_CHECKING:  # core.loyalty.coupons calls this module when it issues
    from core.loyalty.coupons import IssuedCoupon

__all__ = ["COUPON_MESSAGE", "customer_ids", "send_coupon_messages"]


def send_coupon_messages(
    conn: Connection, sealer: PayloadSealer | None, coupons: Sequence[IssuedCoupon], now: datetime
) -> int:
    """Enqueue a ``coupon.issued`` message for each coupon whose template names a destination; returns how many.

    Without an outbox (``sealer``) such a coupon is refused (``ConfigError``): the caller's transaction fails
    rather than storing a coupon the member would never hear of.
    """
    by_destination: dict[str, list[IssuedCoupon]] = defaultdict(list)
    for coupon in coupons:
        if coupon.template.email_destination is not None:
            by_destination[coupon.template.email_destination].append(coupon)
    written = 0
    for destination, told in by_destination.items():
        if sealer is None:
            raise ConfigError(
                f"the loyalty rules send {COUPON_MESSAGE} messages to {destination!r}, but this loyalty engine has "
                "no outbox"
            )
        customers = customer_ids(conn, {coupon.member_id for coupon in told}, destination)
        for coupon in told:
            written += outbox.enqueue(
                conn, sealer, destination=destination, kind=COUPON_MESSAGE,
                idempotency_key=f"coupon:{coupon.id}:email", payload=_payload(coupon, customers[coupon.member_id]),
                now=now, member_id=coupon.member_id,
            )  # fmt: skip
    return written


def customer_ids(conn: Connection, roots: Iterable[UUID], destination: str) -> dict[UUID, str | None]:
    """Each cluster's customer id in ``destination``: its first linked member's (the root first), or ``None``."""
    clusters = loyalty_repo.cluster_members(conn, roots)
    members = [member for cluster in clusters.values() for member in cluster]
    linked = coupons_repo.external_ids_in(conn, members, destination)
    return {root: next((linked[m] for m in cluster if m in linked), None) for root, cluster in clusters.items()}


def _payload(coupon: IssuedCoupon, customer_id: str | None) -> dict[str, Any]:
    template = coupon.template
    return {
        "member_id": str(coupon.member_id),
        "customer_id": customer_id,
        "coupon_code": coupon.code,
        "template": template.code,
        "name_ja": template.name_ja,
        "name_en": template.name_en,
        "value_type": template.value_type,
        "value": template.value,
        "max_uses": template.max_uses,
        "issued_at": coupon.issued_at.isoformat(),
        "expires_at": coupon.expires_at.isoformat(),
    }
