"""Deterministic Japanese customers and orders, rendered one record at a time in the GraphQL Admin API's shape.

Nothing is stored per record: every value derives from ``(seed, kind, index)`` through a hash, so 100,000 orders
cost no memory until a page asks for them, and the same seed always gives the same shop. The customers are the
sandbox town's people (``connectors.town``). Time is kept as Unix seconds; business hours are Asia/Tokyo, the API
answers in UTC (``…Z``), as Shopify's GraphQL ``DateTime`` does.

Every ``SHARED_EVERY``-th customer is the in-store twin of the customer before it: the same person registered
again at a till, with the same name and phone and the email typed in another case. Their web orders go to the
online record and their POS orders to the twin, which is what identity matching downstream must untangle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from connectors import town
from connectors.town import pick, unit

JST = timezone(timedelta(hours=9))
EPOCH_S = int(datetime(2025, 4, 1, 10, 0, tzinfo=JST).timestamp())
SPAN_S = 180 * 24 * 3600
SHARED_EVERY = 10
CUSTOMER_ID_BASE = 7_100_000_000_000
ORDER_ID_BASE = 5_900_000_000_000
LINE_ITEM_ID_BASE = 14_000_000_000_000
REFUND_ID_BASE = 900_000_000_000
METAFIELD_ID_BASE = 26_000_000_000_000
TAX_PERCENT = 10

# Prices include 10 % consumption tax, as Japanese shops display them (standard-rate goods only).
PRODUCTS: tuple[tuple[str, str, int], ...] = (
    ("TOWEL-IMB-01", "今治タオル フェイスタオル", 1650),
    ("KYUSU-NB-06", "南部鉄器 急須 0.6L", 8800),
    ("MUG-ARITA-01", "有田焼 マグカップ", 2420),
    ("TENUGUI-SK", "手ぬぐい 注染 桜柄", 990),
    ("HAND-YUZU", "ハンドクリーム 柚子", 880),
    ("SOCKS-3P", "靴下 3足組", 1089),
    ("UMBRELLA-F", "折りたたみ傘", 2980),
    ("BENTO-MGW", "弁当箱 曲げわっぱ", 4950),
    ("SENSU-KYO", "扇子 京都", 3300),
    ("INK-BLUE", "万年筆 インク 青", 770),
)
LOCATIONS: tuple[tuple[int, str], ...] = (
    (71_001, "渋谷店"),
    (71_002, "梅田店"),
    (71_003, "名古屋栄店"),
    (71_004, "札幌大通店"),
    (71_005, "福岡天神店"),
)
DISCOUNT_CODES: tuple[tuple[str, int], ...] = (("WELCOME500", 500), ("SPRING300", 300), ("MEMBER1000", 1000))


def iso_utc(epoch_s: int) -> str:
    """Shopify's GraphQL ``DateTime``: UTC, whole seconds, ``Z``."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: int) -> dict[str, Any]:
    """A ``MoneyBag`` in yen; Shopify writes amounts as decimal strings (``"12800.0"``)."""
    value = {"amount": f"{amount}.0", "currencyCode": "JPY"}
    return {"shopMoney": value, "presentmentMoney": dict(value)}


def gid(kind: str, number: int) -> str:
    """A global id such as ``gid://shopify/Customer/7100000000001``."""
    return f"gid://shopify/{kind}/{number}"


@dataclass(frozen=True)
class Refund:
    """A refund of ``amount`` yen made at ``at`` (Unix seconds)."""

    number: int
    at: int
    amount: int


@dataclass(frozen=True)
class Cancellation:
    """An order cancelled at ``at`` for ``reason`` (an ``OrderCancelReason``)."""

    at: int
    reason: str


class ShopData:
    """The generated shop: ``customers`` and ``orders`` records numbered from 1, computed on demand."""

    def __init__(self, *, customers: int, orders: int, seed: int) -> None:
        self.customers = customers
        self.orders = orders
        self.seed = seed
        self._customer_step = max(30, SPAN_S // max(customers, 1))
        self._order_step = max(30, SPAN_S // max(orders, 1))

    # ── timestamps (cheap: no Faker) ───────────────────────────────────────────────────────────────

    def created_at(self, kind: str, index: int) -> int:
        """When a record was created; about one in seven shares the previous record's second."""
        step = self._customer_step if kind == "customers" else self._order_step
        if index > 1 and unit(self.seed, kind, index, "tie") < 0.15:
            index -= 1
        return EPOCH_S + index * step + int(unit(self.seed, kind, index, "jitter") * step / 2)

    def base_updated_at(self, kind: str, index: int) -> int:
        """``updatedAt`` as generated: an edit some days later, or the order's refund or cancellation."""
        created = self.created_at(kind, index)
        if kind == "orders":
            outcome, later = self._after_sale_outcome(index)
            return created if outcome is None else later
        if unit(self.seed, kind, index, "edited") < 0.3:
            return created + pick(self.seed, kind, index, "edit-delay", 30 * 86400)
        return created

    def after_sale(self, index: int) -> tuple[list[Refund], Cancellation | None]:
        """Generated refunds and cancellation: about 5 % cancelled, 4 % partly and 3 % fully refunded."""
        outcome, later = self._after_sale_outcome(index)
        number = REFUND_ID_BASE + index * 10
        if outcome == "cancelled":
            return [Refund(number, later, self.order_total(index))], Cancellation(later, "CUSTOMER")
        if outcome == "partial":
            return [Refund(number, later, self.line_items(index)[0][3])], None
        if outcome == "full":
            return [Refund(number, later, self.order_total(index))], None
        return [], None

    def _after_sale_outcome(self, index: int) -> tuple[str | None, int]:
        """What happened after the sale, and when; cheap, because building the sort order asks it of every order."""
        roll = unit(self.seed, "orders", index, "after-sale")
        outcome = "cancelled" if roll < 0.05 else "partial" if roll < 0.09 else "full" if roll < 0.12 else None
        if outcome is None:
            return None, 0
        return outcome, self.created_at("orders", index) + 86400 * (1 + pick(self.seed, "orders", index, "later", 9))

    # ── orders ─────────────────────────────────────────────────────────────────────────────────────

    def line_items(self, index: int) -> list[tuple[str, str, int, int]]:
        """``(sku, name, quantity, line total)`` for each line of an order."""
        count = 1 + pick(self.seed, "orders", index, "lines", 4)
        first = pick(self.seed, "orders", index, "first-product", len(PRODUCTS))
        lines = []
        for offset in range(count):
            sku, name, price = PRODUCTS[(first + offset * 3) % len(PRODUCTS)]
            quantity = 1 + pick(self.seed, "orders", index, f"qty{offset}", 3)
            lines.append((sku, name, quantity, price * quantity))
        return lines

    def discount(self, index: int) -> tuple[str, int] | None:
        """The discount code used, if any, and its yen value."""
        if unit(self.seed, "orders", index, "discount") >= 0.15:
            return None
        return DISCOUNT_CODES[pick(self.seed, "orders", index, "code", len(DISCOUNT_CODES))]

    def order_total(self, index: int) -> int:
        """What the customer paid, tax included."""
        subtotal = sum(line[3] for line in self.line_items(index))
        code = self.discount(index)
        return max(0, subtotal - (code[1] if code else 0))

    def is_pos(self, index: int) -> bool:
        """Whether the order was rung up at a till (``sourceName: "pos"``) rather than online."""
        return unit(self.seed, "orders", index, "channel") < 0.4

    def order_customer(self, index: int) -> int | None:
        """The customer index of an order, or ``None`` for a guest checkout."""
        if self.customers == 0 or unit(self.seed, "orders", index, "guest") < 0.12:
            return None
        customer = 1 + pick(self.seed, "orders", index, "customer", self.customers)
        twin_of = self.twin_of(customer)
        if twin_of is not None and not self.is_pos(index):
            return twin_of  # the shared shopper's web orders belong to the online account
        if self.twin_of(customer + 1) == customer and customer + 1 <= self.customers and self.is_pos(index):
            return customer + 1  # … and their till purchases to the in-store account
        return customer

    def location(self, index: int) -> tuple[int, str] | None:
        """The store of a POS order."""
        if not self.is_pos(index):
            return None
        return LOCATIONS[pick(self.seed, "orders", index, "store", len(LOCATIONS))]

    # ── customers ──────────────────────────────────────────────────────────────────────────────────

    def twin_of(self, index: int) -> int | None:
        """The online customer this in-store record duplicates, if it is a twin."""
        return index - 1 if index % SHARED_EVERY == 0 and index > 1 else None

    def person(self, index: int) -> dict[str, Any]:
        """Name, email, phone and address of a customer record (a twin shares its original's person)."""
        twin_of = self.twin_of(index)
        if twin_of is not None:
            original = self.person(twin_of)
            email = original["email"]
            if email is not None:
                local, _, domain = email.partition("@")
                original["email"] = f"{local.title()}@{domain.upper()}"
            return original
        someone = town.person(self.seed, index)
        return {
            "first_name": someone.first_name,
            "last_name": someone.last_name,
            "email": someone.email,
            "phone": someone.mobile_e164,
            "province": town.PREFECTURES[someone.prefecture],
            "province_code": f"JP-{someone.prefecture + 1:02d}",
            "city": someone.city,
            "address1": someone.street,
            "address2": someone.building,
            "zip": someone.postal_code,
        }
