"""The history the timeline benchmark seeds: every timeline kind, from several sources, sealed where members wrote.

Rows are plain dicts keyed by column, ids assigned here so that refunds point at their purchase and messages
at their inquiry; ``bench/timeline_bench.py`` writes them with the driver's executemany.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from core.crypto.envelope import FieldCipher
from core.crypto.sealing import MemberSealer

BATCH = 1_000
MERGED_SHARE = 0.1  # heavy members whose events are shared with a second member merged into them
SPAN = timedelta(days=3 * 365)
KIND_WEIGHTS = {
    "purchase": 28, "refund": 5, "cancel": 2, "inquiry": 8, "points": 28, "rank_change": 3, "survey": 5,
    "coupon_issued": 8, "coupon_used": 5, "consent": 8,
}  # fmt: skip
SUBJECTS = ("配送について", "返品したい", "ポイントが付与されていない", "会員ランクについて", "クーポンが使えない")
BODIES = ("注文した商品がまだ届きません。", "確認いたします。少々お待ちください。", "ありがとうございました。")
RANKS = ("bronze", "silver", "gold", "platinum")
SEGMENTS = ("vip", "dormant", "new", "online_first", "store_first")


@dataclass(frozen=True)
class Plan:
    """How many members and events, and how the events are shared out."""

    members: int
    events: int
    heavy: int
    heavy_events: int
    seed: int


@dataclass
class Batch:
    """One batch of members' history: rows per table, merges (merged, root), the heavy roots, event count."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    merges: list[tuple[UUID, UUID]] = field(default_factory=list)
    heavy: list[UUID] = field(default_factory=list)
    events: int = 0


class EventFactory:
    """Generates the history of each batch of members, reproducibly from the plan's seed."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.now = datetime.now(UTC)
        self.rng = random.Random(plan.seed)  # reproducible bench data, not secrets
        self.heavy = set(self.rng.sample(range(plan.members), plan.heavy))
        light = plan.members - plan.heavy
        self.light_events, self.light_extra = divmod(plan.events - plan.heavy * plan.heavy_events, max(light, 1))
        self.light_seen = 0
        self.ids: dict[str, int] = defaultdict(int)

    def batch(self, start: int, members: list[UUID], ciphers: dict[UUID, FieldCipher]) -> Batch:
        """The history of ``members``, the members numbered ``start``… of the plan."""
        batch = Batch()
        partners = [m for offset, m in enumerate(members) if start + offset not in self.heavy]
        for offset, member in enumerate(members):
            if start + offset in self.heavy:
                owners = [member]
                if partners and self.rng.random() < MERGED_SHARE:
                    owners.append(partners.pop())
                    batch.merges.append((owners[1], member))
                batch.heavy.append(member)
                self._history(batch, owners, self.plan.heavy_events, ciphers)
                self._segments(batch, member, 2)
            else:
                extra = 1 if self.light_seen < self.light_extra else 0
                self.light_seen += 1
                self._history(batch, [member], self.light_events + extra, ciphers)
                self._segments(batch, member, 1 if self.rng.random() < 0.2 else 0)
        return batch

    def _history(self, batch: Batch, owners: list[UUID], count: int, ciphers: dict[UUID, FieldCipher]) -> None:
        purchases: list[dict[str, Any]] = []
        unused: list[dict[str, Any]] = []
        rng = self.rng
        for kind in rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()), k=count):
            owner = owners[0] if len(owners) == 1 or rng.random() < 0.7 else owners[1]
            when = self.now - SPAN * rng.random()
            if kind in ("refund", "cancel") and purchases:
                self._adjustment(batch, purchases.pop(rng.randrange(len(purchases))), kind)
            elif kind == "coupon_used" and unused:
                coupon = unused.pop()
                coupon["used_at"] = min(coupon["issued_at"] + timedelta(days=rng.uniform(0, 60)), self.now)
            elif kind in ("refund", "cancel", "purchase"):
                purchases.append(self._purchase(batch, owner, when))
            elif kind in ("coupon_used", "coupon_issued"):
                unused.append(self._coupon(batch, owner, when))
            else:
                getattr(self, f"_{kind}")(batch, owner, when, ciphers[owner])
            batch.events += 1

    def _id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def _add(self, batch: Batch, table: str, row: dict[str, Any]) -> dict[str, Any]:
        batch.rows[table].append(row)
        return row

    def _purchase(self, batch: Batch, member: UUID, when: datetime) -> dict[str, Any]:
        row_id, online = self._id("purchases"), self.rng.random() < 0.4
        return self._add(batch, "purchases", {
            "id": row_id, "member_id": member, "source": "shopify" if online else "pos", "external_id": f"P{row_id}",
            "channel": "online" if online else "store", "store_code": "WEB" if online else f"S{row_id % 40:02d}",
            "status": "completed", "currency": "JPY", "total_amount": self.rng.randrange(300, 30_000, 10),
            "tax_amount": 0, "discount_amount": 0, "purchased_at": when, "source_updated_at": when, "created_at": when,
        })  # fmt: skip

    def _adjustment(self, batch: Batch, purchase: dict[str, Any], kind: str) -> None:
        row_id = self._id("purchase_adjustments")
        refund = kind == "refund"
        purchase["status"] = "partially_refunded" if refund else "cancelled"
        amount = purchase["total_amount"] // 2 if refund else purchase["total_amount"]
        when = min(purchase["purchased_at"] + timedelta(days=self.rng.uniform(0, 30)), self.now)
        self._add(batch, "purchase_adjustments", {
            "id": row_id, "purchase_id": purchase["id"], "source": purchase["source"], "external_id": f"A{row_id}",
            "kind": kind, "amount": amount, "occurred_at": when,
        })  # fmt: skip

    def _inquiry(self, batch: Batch, member: UUID, when: datetime, cipher: FieldCipher) -> None:
        row_id, rng = self._id("inquiries"), self.rng
        status = rng.choices(("open", "pending", "solved", "closed"), weights=(1, 1, 3, 5))[0]
        sealed = MemberSealer.seal_fields(cipher, member, {"subject": rng.choice(SUBJECTS)}, table="inquiries")
        self._add(batch, "inquiries", {
            "id": row_id, "member_id": member, "source": "zendesk", "external_id": f"T{row_id}",
            "channel": rng.choice(("phone", "email", "chat", "web")), "category": "general", "status": status,
            "subject_ct": sealed["subject_ct"], "opened_at": when, "source_updated_at": when,
            "closed_at": when + timedelta(hours=4) if status in ("solved", "closed") else None,
        })  # fmt: skip
        for minute, body in enumerate(rng.sample(BODIES, 2)):
            message_id = self._id("inquiry_messages")
            text = MemberSealer.seal_fields(cipher, member, {"body": body}, table="inquiry_messages")
            self._add(batch, "inquiry_messages", {
                "id": message_id, "inquiry_id": row_id, "source": "zendesk", "external_id": f"M{message_id}",
                "author_kind": "agent" if minute else "member", "body_ct": text["body_ct"],
                "sent_at": when + timedelta(minutes=minute),
            })  # fmt: skip

    def _points(self, batch: Batch, member: UUID, when: datetime, cipher: FieldCipher) -> None:
        row_id, rng = self._id("point_ledger"), self.rng
        kind = rng.choices(("earn", "redeem", "expire", "adjust"), weights=(70, 20, 5, 5))[0]
        points = rng.randrange(1, 300) * (1 if kind in ("earn", "adjust") else -1)
        self._add(batch, "point_ledger", {
            "id": row_id, "member_id": member, "kind": kind, "points": points,
            "status": "pending" if kind == "earn" and rng.random() < 0.1 else "available",
            "source_event": f"bench:{row_id}", "rule_version": rng.choice(("2025.2", "2026.1")), "occurred_at": when,
            "available_at": None, "expires_at": when + timedelta(days=365) if kind == "earn" else None, "note": None,
            "created_at": when,
        })  # fmt: skip

    def _rank_change(self, batch: Batch, member: UUID, when: datetime, cipher: FieldCipher) -> None:
        row_id, low = self._id("rank_history"), self.rng.randrange(len(RANKS) - 1)
        self._add(batch, "rank_history", {
            "id": row_id, "member_id": member, "from_rank": RANKS[low], "to_rank": RANKS[low + 1],
            "reason": "spend_12m threshold", "rule_version": "2026.1", "changed_at": when,
        })  # fmt: skip

    def _survey(self, batch: Batch, member: UUID, when: datetime, cipher: FieldCipher) -> None:
        row_id = self._id("survey_responses")
        text = MemberSealer.seal_fields(cipher, member, {"free_text": "また利用します"}, table="survey_responses")
        self._add(batch, "survey_responses", {
            "id": row_id, "member_id": member, "source": "mailchimp", "external_id": f"S{row_id}",
            "survey_code": "nps", "score": self.rng.randrange(11), "free_text_ct": text["free_text_ct"],
            "answered_at": when, "source_updated_at": when,
        })  # fmt: skip

    def _coupon(self, batch: Batch, member: UUID, when: datetime) -> dict[str, Any]:
        row_id = self._id("coupons")
        return self._add(batch, "coupons", {
            "id": row_id, "member_id": member, "code": f"CP{row_id:08d}", "kind": "birthday", "value_type": "percent",
            "value": 10, "issued_at": when, "expires_at": when + timedelta(days=90), "used_at": None,
            "source_event": f"bench-coupon:{row_id}",
        })  # fmt: skip

    def _consent(self, batch: Batch, member: UUID, when: datetime, cipher: FieldCipher) -> None:
        row_id = self._id("consent_events")
        self._add(batch, "consent_events", {
            "id": row_id, "member_id": member, "source": self.rng.choice(("klaviyo", "shopify")),
            "external_id": f"K{row_id}", "channel": self.rng.choice(("email", "sms", "post")),
            "subscribed": self.rng.random() < 0.7, "changed_at": when, "source_updated_at": when,
        })  # fmt: skip

    def _segments(self, batch: Batch, member: UUID, count: int) -> None:
        for code in self.rng.sample(SEGMENTS, count):
            self._add(batch, "member_segments", {"member_id": member, "segment_code": code, "since": self.now})
