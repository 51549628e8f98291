"""Points-expiry notices: clusters whose points expire within ``[expiry_notice] days`` hear of it once per expiry.

``expiring_points`` lists them (``hub loyalty expiring``); ``send_expiry_notices`` (a nightly job) writes one
``points.expiring`` outbox message per cluster, expiry moment and destination, keyed
``points-expiring:<destination>:<root id>:<expires_at>``, so the nightly run of every day of the notice window
tells each expiry once. A cluster without a customer id in the destination is skipped (the mailer could not
address it). Payloads carry the member number (sealed in the outbox, never logged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Connection

from core.crypto.sealing import MemberSealer
from core.errors import ConfigError
from core.loyalty.coupon_messages import customer_ids
from core.loyalty.rules import LoyaltyRules
from core.loyalty.status_messages import member_numbers
from core.store import loyalty_status as repo
from core.sync import outbox
from core.sync.contract import EXPIRING_MESSAGE
from core.sync.payloads import PayloadSealer


@dataclass(frozen=True)
class ExpiringPoints:
    """Points of one cluster that expire at one moment."""

    member_id: UUID
    points: int
    expires_at: datetime


def expiring_points(conn: Connection, now: datetime, days: int) -> list[ExpiringPoints]:
    """Points that expire after ``now`` and within ``days``, per cluster root and expiry, soonest first."""
    rows = repo.expiring_lots(conn, now, now + timedelta(days=days))
    return [ExpiringPoints(_uuid(row.root), int(row.points), row.expires_at) for row in rows]


def send_expiry_notices(
    conn: Connection, rules: LoyaltyRules, now: datetime, outbox_sealer: PayloadSealer | None, sealer: MemberSealer
) -> int:
    """Tell the ``[expiry_notice]`` destinations of every expiry within the notice window; returns messages written."""
    notice = rules.expiry_notice
    if not notice.destinations:
        return 0
    if outbox_sealer is None:
        raise ConfigError("the loyalty rules send points-expiry notices, but this engine has no outbox")
    due = expiring_points(conn, now, notice.days)
    if not due:
        return 0
    roots = {item.member_id for item in due}
    numbers = member_numbers(conn, sealer, roots)
    written = 0
    for destination in notice.destinations:
        customers = customer_ids(conn, roots, destination)
        for item in due:
            customer_id = customers.get(item.member_id)
            if customer_id is None:
                continue
            payload = {
                "member_id": str(item.member_id),
                "customer_id": customer_id,
                "member_number": numbers.get(item.member_id.hex),
                "points": item.points,
                "expires_at": item.expires_at.isoformat(),
                "notice_days": notice.days,
            }
            written += outbox.enqueue(
                conn, outbox_sealer, destination=destination, kind=EXPIRING_MESSAGE,
                idempotency_key=f"points-expiring:{destination}:{item.member_id}:{item.expires_at.isoformat()}",
                payload=payload, now=now, member_id=item.member_id,
            )  # fmt: skip
    return written


def _uuid(raw: object) -> UUID:
    return raw if isinstance(raw, UUID) else UUID(str(raw))
