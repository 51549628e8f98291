"""Coupons: issuing them from templates, and deciding the codes purchases carry.

Codes are drawn from ``secrets``: the template's prefix and twelve characters of an alphabet without the look-
alikes 0/O and 1/I (read aloud at a till), 60 random bits, so a code cannot be guessed from another. Issuing is
keyed by a source event (``coupons.source_event`` is unique): asking again for the same event returns the
coupon issued the first time.

A code a purchase carries is redeemed when the coupon belongs to the buyer's cluster (docs/identity.md: a
coupon issued to a member merged since stays theirs), the purchase was made in ``[issued_at, expires_at)``
and the coupon has uses left. Otherwise the use is refused with a reason, and the purchase stands as it is.
A purchase cancelled later (status ``cancelled`` or a cancellation adjustment) gives its uses back; a refund,
even in full, does not: the coupon was used for goods the customer received.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Row

from core.logs import get_logger
from core.loyalty.coupon_messages import send_coupon_messages
from core.loyalty.offer_rules import CouponTemplate
from core.loyalty.periods import end_of_day_after
from core.store import coupons as repo
from core.store import identity as identity_repo
from core.store import loyalty as loyalty_repo
from core.sync.payloads import PayloadSealer

__all__ = [
    "CODE_ALPHABET",
    "CouponIssuer",
    "CouponState",
    "CouponUses",
    "HeldCoupons",
    "IssuedCoupon",
    "cluster_coupons",
    "new_code",
]

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_RANDOM_CHARACTERS = 12  # 32 ** 12 = 2 ** 60
log = get_logger(__name__)


def new_code(prefix: str) -> str:
    """A fresh unguessable code, e.g. ``SORRY-7KQM-X2PD-94HT``."""
    drawn = "".join(secrets.choice(CODE_ALPHABET) for _ in range(_RANDOM_CHARACTERS))
    return "-".join([prefix, drawn[:4], drawn[4:8], drawn[8:]])


@dataclass(frozen=True)
class IssuedCoupon:
    """A coupon issued for one source event; ``new`` is false if it had been issued by an earlier call."""

    id: int
    code: str
    member_id: UUID
    template: CouponTemplate
    issued_at: datetime
    expires_at: datetime
    source_event: str
    new: bool


@dataclass(frozen=True)
class CouponState:
    """A coupon as a member holds it now: ``status`` is ``available``, ``used_up`` or ``expired``."""

    id: int
    code: str
    member_id: UUID
    template_code: str | None
    kind: str
    value_type: str
    value: int
    issued_at: datetime
    expires_at: datetime | None
    max_uses: int
    uses: int
    status: str


@dataclass(frozen=True)
class HeldCoupons:
    """The coupons of the cluster whose root is ``member_id``, newest first."""

    member_id: UUID
    coupons: list[CouponState]


def cluster_coupons(conn: Connection, member_id: UUID, now: datetime) -> HeldCoupons:
    """Every coupon of the member's cluster (issued to the root or to a member merged into it)."""
    root = identity_repo.roots(conn, [member_id])[member_id]
    members = loyalty_repo.cluster_members(conn, [root])[root]
    held = [
        CouponState(
            row.id, row.code, row.member_id, row.template_code, row.kind, row.value_type, row.value, row.issued_at,
            row.expires_at, row.max_uses, row.uses, _status(row.uses, row.max_uses, row.expires_at, now),
        )
        for row in repo.member_coupons(conn, members)
    ]  # fmt: skip
    return HeldCoupons(root, held)


def _status(uses: int, max_uses: int, expires_at: datetime | None, now: datetime) -> str:
    if uses >= max_uses:
        return "used_up"
    return "expired" if expires_at is not None and now >= expires_at else "available"


class CouponIssuer:
    """Issues coupons from templates in the caller's transaction; one coupon per source event, ever.

    Each new coupon whose template names an ``email_destination`` is told there in the same transaction
    (``core.loyalty.coupon_messages``), sealed by ``outbox``; without one, such a coupon is refused
    (``ConfigError``). ``messages`` counts the outbox messages this issuer wrote.
    """

    def __init__(self, conn: Connection, now: datetime, *, outbox: PayloadSealer | None = None) -> None:
        self.conn = conn
        self.now = now
        self.outbox = outbox
        self.messages = 0

    def issue(self, wanted: Sequence[tuple[UUID, CouponTemplate, str]]) -> list[IssuedCoupon]:
        """Coupons for (member, template, source event) requests, in their order; existing ones are returned."""
        earlier = repo.coupons_by_source_event(self.conn, [source_event for _, _, source_event in wanted])
        rows = [self._row(member_id, template, event) for member_id, template, event in wanted if event not in earlier]
        repo.insert_coupons(self.conn, rows)
        stored = {**earlier, **repo.coupons_by_source_event(self.conn, [row["source_event"] for row in rows])}
        issued = [
            IssuedCoupon(
                stored[event].id, stored[event].code, stored[event].member_id, template, stored[event].issued_at,
                stored[event].expires_at, event, new=event not in earlier,
            )
            for _, template, event in wanted
        ]  # fmt: skip
        self.messages += send_coupon_messages(self.conn, self.outbox, [c for c in issued if c.new], self.now)
        return issued

    def _row(self, member_id: UUID, template: CouponTemplate, source_event: str) -> dict[str, Any]:
        return {
            "member_id": member_id,
            "code": new_code(template.code_prefix),
            "kind": template.kind,
            "value_type": template.value_type,
            "value": template.value,
            "issued_at": self.now,
            "expires_at": end_of_day_after(self.now, template.valid_days),
            "used_at": None,
            "source_event": source_event,
            "template_code": template.code,
            "max_uses": template.max_uses,
        }


@dataclass(frozen=True)
class CodeDecisions:
    """What one call did with carried codes: uses redeemed, refused (by reason) and released."""

    redeemed: int = 0
    refused: Counter[str] | None = None
    released: int = 0

    @property
    def refused_count(self) -> int:
        """Uses refused, whatever the reason."""
        return sum(self.refused.values()) if self.refused else 0


class CouponUses:
    """Decides the codes carried by stored purchases, in the caller's transaction; idempotent."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    def apply(self, purchase_ids: Iterable[int]) -> CodeDecisions:
        """Release the uses of purchases cancelled since, then decide codes not decided yet."""
        ids = list(purchase_ids)
        if not ids:
            return CodeDecisions()
        released = self._release(ids)
        presented = repo.codes_of(self.conn, ids, "presented")
        cancelled = repo.cancelled_purchases(self.conn, [row.purchase_id for row in presented]) if presented else set()
        coupons = repo.coupons_by_code(self.conn, [row.code for row in presented], lock=True) if presented else {}
        uses = repo.use_counts(self.conn, [coupon.id for coupon in coupons.values()]) if coupons else {}
        owners = self._roots(presented, coupons)
        decisions, refused = [], Counter[str]()
        for row in presented:
            coupon = coupons.get(row.code)
            reason = self._refusal(row, coupon, uses, owners, cancelled)
            if reason is None:
                assert coupon is not None
                uses[coupon.id] = uses.get(coupon.id, 0) + 1
            else:
                refused[reason] += 1
            decisions.append(self._decision(row, coupon, reason))
        repo.decide_codes(self.conn, decisions)
        redeemed = {coupon.id for coupon in coupons.values() if uses.get(coupon.id, 0) >= coupon.max_uses}
        repo.set_used_at(self.conn, [{"id": i, "used_at": self.now} for i in sorted(redeemed - self._used_up(coupons))])
        outcome = CodeDecisions(len(presented) - sum(refused.values()), refused, released)
        _log(outcome)
        return outcome

    def _release(self, purchase_ids: list[int]) -> int:
        """Give back the uses of purchases that were cancelled; the coupons are usable again."""
        held = repo.codes_of(self.conn, purchase_ids, "redeemed")
        cancelled = repo.cancelled_purchases(self.conn, [row.purchase_id for row in held]) if held else set()
        gone = [row for row in held if row.purchase_status == "cancelled" or row.purchase_id in cancelled]
        if not gone:
            return 0
        repo.decide_codes(self.conn, [{"id": row.id, "status": "released", "decided_at": self.now} for row in gone])
        repo.set_used_at(self.conn, [{"id": coupon_id, "used_at": None} for coupon_id in {r.coupon_id for r in gone}])
        return len(gone)

    def _roots(self, presented: Sequence[Row[Any]], coupons: dict[str, Row[Any]]) -> dict[UUID, tuple[UUID, str]]:
        """Each buyer's and coupon owner's cluster root, with the root's status."""
        members = {row.member_id for row in presented if row.member_id is not None}
        members |= {coupon.member_id for coupon in coupons.values()}
        roots = identity_repo.roots(self.conn, members)
        states = loyalty_repo.member_states(self.conn, set(roots.values()))
        return {member: (root, states[root].status) for member, root in roots.items() if root in states}

    def _refusal(
        self,
        row: Row[Any],
        coupon: Row[Any] | None,
        uses: dict[int, int],
        owners: dict[UUID, tuple[UUID, str]],
        cancelled: set[int],
    ) -> str | None:
        """Why this code cannot be redeemed by this purchase, or ``None`` if it can."""
        if coupon is None:
            return "unknown"
        if row.member_id is None:
            return "guest"
        buyer, owner = owners.get(row.member_id), owners.get(coupon.member_id)
        if buyer is None or owner is None or buyer[0] != owner[0]:
            return "other_member"
        if buyer[1] == "erased":
            return "erased"
        if row.purchase_status == "cancelled" or row.purchase_id in cancelled:
            return "cancelled"
        if row.purchased_at < coupon.issued_at:
            return "not_yet_valid"
        if coupon.expires_at is not None and row.purchased_at >= coupon.expires_at:
            return "expired"
        if uses.get(coupon.id, 0) >= coupon.max_uses:
            return "used_up"
        return None

    def _decision(self, row: Row[Any], coupon: Row[Any] | None, reason: str | None) -> dict[str, Any]:
        return {
            "id": row.id,
            "status": "refused" if reason else "redeemed",
            "reason": reason,
            "coupon_id": coupon.id if coupon is not None else None,
            "member_id": row.member_id,
            "redeemed_at": None if reason else row.purchased_at,
            "decided_at": self.now,
        }

    @staticmethod
    def _used_up(coupons: dict[str, Row[Any]]) -> set[int]:
        return {coupon.id for coupon in coupons.values() if coupon.used_at is not None}


def _log(outcome: CodeDecisions) -> None:
    """One line per outcome at batch grain: counts and reasons, never a code, a member or a purchase."""
    if outcome.redeemed:
        log.info("coupon uses redeemed", count=outcome.redeemed, status="redeemed")
    for reason, count in sorted((outcome.refused or Counter[str]()).items()):
        log.info("coupon uses refused", count=count, status=reason)
    if outcome.released:
        log.info("coupon uses released", count=outcome.released, status="released")
