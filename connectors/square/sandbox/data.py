"""Deterministic Square data for the sandbox: the town's people as a Square customer directory, and store sales.

Nothing is stored per record: every value derives from ``(seed, kind, index)`` through ``connectors.town``'s
hash, so 100,000 orders cost nothing until a page asks for them. Customers are the sandbox town's people
(``connectors.town.person``), the same person ``n`` the Shopify sandbox serves: most of persons ``1..people``
have a customer record, and the rest of the directory is people met only at the till (persons after ``people``).
The records use the notations a clerk leaves in Square: phones as typed, emails sometimes missing or in
capitals, names now in kanji, now in katakana. Times are epoch milliseconds; the stores open 10:00–20:00 JST.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property

from connectors import town
from connectors.town import pick, unit

JST = timezone(timedelta(hours=9))
EPOCH_MS = int(datetime(2025, 6, 1, tzinfo=JST).timestamp() * 1000)
SPAN_DAYS = 180
OPEN_HOUR, CLOSE_HOUR = 10, 20
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
TAX_PERCENT = 10
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
BASE32 = "".join(c for c in string.digits + string.ascii_uppercase if c not in "ILOU")  # Crockford's

# Prices include the 10 % consumption tax, as Japanese stores display them (standard-rate goods only).
PRODUCTS: tuple[tuple[str, str, int], ...] = (
    ("ZAKKA-001", "美濃焼 豆皿 5枚組", 2750),
    ("ZAKKA-002", "信楽焼 湯呑み", 1980),
    ("ZAKKA-003", "江戸切子 ロックグラス", 12100),
    ("ZAKKA-004", "竹製 菜箸", 660),
    ("ZAKKA-005", "蚊帳生地 ふきん 3枚", 1100),
    ("ZAKKA-006", "檜 まな板 中", 5280),
    ("ZAKKA-007", "藍染 巾着", 1650),
    ("ZAKKA-008", "和紙 ノート A5", 880),
    ("ZAKKA-009", "風呂敷 70cm 唐草", 2200),
    ("ZAKKA-010", "会津塗 汁椀", 3850),
    ("ZAKKA-011", "真鍮 ブックマーク", 1320),
    ("ZAKKA-012", "今治 バスタオル", 4400),
)
STORES: tuple[str, ...] = (
    "渋谷店", "新宿店", "池袋店", "銀座店", "横浜店", "梅田店", "なんば店", "京都四条店",
    "名古屋栄店", "札幌大通店", "仙台店", "福岡天神店", "広島店", "神戸三宮店",
)  # fmt: skip
COUPONS: tuple[tuple[str | None, str, int], ...] = (
    ("WELCOME500", "ようこそクーポン", 500),
    ("SPRING300", "春のクーポン", 300),
    ("MEMBER1000", "会員感謝クーポン", 1000),
    (None, "店頭値引き", 200),  # a clerk's discount: no code
)
TENDERS = ("CARD", "CASH", "CARD", "OTHER")  # OTHER: transit IC cards and QR payments


def iso(epoch_ms: int) -> str:
    """Square's timestamps: RFC 3339 in UTC with milliseconds (``2025-06-01T01:00:00.000Z``)."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def square_id(seed: int, kind: str, index: int, length: int, *, alphabet: str = BASE32) -> str:
    """An id in Square's style whose last six characters encode ``index`` (so it is found without a table)."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{index}:id".encode(), digest_size=32).digest()
    head = "".join(alphabet[byte % len(alphabet)] for byte in digest[: length - 6])
    tail = ""
    for _ in range(6):
        index, digit = divmod(index, 32)
        tail = BASE32[digit] + tail
    return head + tail


def index_in(identifier: str) -> int | None:
    """The index encoded by ``square_id`` (check it against the id it should make)."""
    value = 0
    for character in identifier[-6:]:
        digit = BASE32.find(character)
        if digit < 0:
            return None
        value = value * 32 + digit
    return value


@dataclass(frozen=True)
class Refund:
    """A refund of ``amount`` yen of one order, made at ``at_ms``."""

    number: int
    at_ms: int
    amount: int


class SquareData:
    """The generated seller: ``locations``, ``customers`` and ``orders`` numbered from 1, computed on demand."""

    def __init__(self, *, customers: int, orders: int, people: int, locations: int, seed: int) -> None:
        if not 1 <= locations <= len(STORES):
            raise ValueError(f"between 1 and {len(STORES)} locations")
        self.customers = customers
        self.orders = orders
        self.people = people
        self.locations = locations
        self.seed = seed

    # ── locations and customers ────────────────────────────────────────────────────────────────────

    def location_id(self, number: int) -> str:
        """``L`` and twelve characters, like ``L88917AVBK2S5``."""
        return self._location_ids[number - 1]

    @cached_property
    def _location_ids(self) -> tuple[str, ...]:
        return tuple("L" + square_id(self.seed, "locations", number, 12) for number in range(1, self.locations + 1))

    @cached_property
    def person_numbers(self) -> tuple[int, ...]:
        """The town person behind each customer record: 60 % of the shared people, then till-only people."""
        till_only = max(1, self.customers // 4) if self.customers else 0
        shared = [n for n in range(1, self.people + 1) if unit(self.seed, "square", n, "registered") < 0.6]
        shared = shared[: self.customers - till_only]
        extra = range(self.people + 1, self.people + 1 + self.customers - len(shared))
        return (*shared, *extra)

    def customer_created_ms(self, index: int) -> int:
        """When the clerk registered the customer; about one in seven in the same second as the one before."""
        step = SPAN_DAYS * DAY_MS // max(self.customers, 1)
        while index > 1 and unit(self.seed, "sq-customers", index, "tie") < 0.15:
            index -= 1
        return EPOCH_MS + index * step + pick(self.seed, "sq-customers", index, "jitter", max(step // 2, 1))

    def customer_updated_ms(self, index: int) -> int:
        """A later edit for about a third of the customers."""
        created = self.customer_created_ms(index)
        if unit(self.seed, "sq-customers", index, "edited") < 0.3:
            return created + 1000 * pick(self.seed, "sq-customers", index, "edit-delay", 30 * 86_400)
        return created

    def customer_fields(self, index: int) -> dict[str, object]:
        """Name, contact and address of a customer record, in the notations the clerk used."""
        someone = town.person(self.seed, self.person_numbers[index - 1])
        notation = unit(self.seed, "sq-customers", index, "notation")
        katakana = notation < 0.15
        return {
            "given_name": someone.first_kana if katakana else someone.first_name,
            "family_name": someone.last_kana if katakana else someone.last_name,
            "email_address": self._email(index, someone.email),
            "phone_number": self._phone(index, someone),
            "address": _address(someone) if unit(self.seed, "sq-customers", index, "has-address") < 0.5 else None,
            "birthday": someone.birthday.isoformat()
            if unit(self.seed, "sq-customers", index, "has-birthday") < 0.4
            else None,
        }

    def _email(self, index: int, email: str | None) -> str | None:
        roll = unit(self.seed, "sq-customers", index, "email")
        if email is None or roll < 0.2:
            return None
        return email.upper() if roll < 0.3 else email

    def _phone(self, index: int, someone: town.Person) -> str | None:
        if someone.mobile is None:
            return None
        roll = unit(self.seed, "sq-customers", index, "phone")
        if roll < 0.5:
            return someone.mobile_dashed
        if roll < 0.8:
            return f"+81 {someone.mobile[1:3]}-{someone.mobile[3:7]}-{someone.mobile[7:]}"
        return someone.mobile

    # ── orders ─────────────────────────────────────────────────────────────────────────────────────

    def order_created_ms(self, index: int) -> int:
        """Rung up during opening hours, JST; about one in eight in the same second as the one before."""
        while index > 1 and unit(self.seed, "sq-orders", index, "tie") < 0.12:
            index -= 1
        day = EPOCH_MS + (index * SPAN_DAYS // max(self.orders, 1)) * DAY_MS
        open_ms = (CLOSE_HOUR - OPEN_HOUR) * HOUR_MS
        return day + OPEN_HOUR * HOUR_MS + 1000 * pick(self.seed, "sq-orders", index, "time", open_ms // 1000)

    def uploaded_ms(self, index: int) -> int | None:
        """For an offline sale (about 4 %), when the till reached Square again: up to 72 hours later."""
        if unit(self.seed, "sq-orders", index, "offline") >= 0.04:
            return None
        return self.order_created_ms(index) + 1000 * (600 + pick(self.seed, "sq-orders", index, "upload", 72 * 3600))

    def is_open(self, index: int) -> bool:
        """An open ticket never paid (about 3 %): state OPEN, outside the COMPLETED search."""
        return unit(self.seed, "sq-orders", index, "open") < 0.03

    def refunds(self, index: int) -> list[Refund]:
        """About 4 % of paid orders partly and 3 % fully refunded, 1 to 10 days after the sale."""
        at = self._refunded_ms(index)
        if at is None:
            return []
        partly = unit(self.seed, "sq-orders", index, "refund") < 0.04
        amount = self.line_items(index)[0][3] if partly else self.order_total(index)
        return [Refund(index * 10, at, min(amount, self.order_total(index)))]

    def order_updated_ms(self, index: int) -> int:
        """The last change: the upload of an offline sale, a refund, or the sale itself."""
        return max(self.order_created_ms(index), self.uploaded_ms(index) or 0, self._refunded_ms(index) or 0)

    def _refunded_ms(self, index: int) -> int | None:
        """When the order was refunded, if it was (cheap: sorting by ``updated_at`` asks it of every order)."""
        if unit(self.seed, "sq-orders", index, "refund") >= 0.07 or self.is_open(index):
            return None
        return self.order_created_ms(index) + DAY_MS * (1 + pick(self.seed, "sq-orders", index, "refund-day", 10))

    def location_of(self, index: int) -> int:
        """The store number (from 1) of a sale."""
        return 1 + pick(self.seed, "sq-orders", index, "store", self.locations)

    def customer_of(self, index: int) -> int | None:
        """The customer index of a sale, or ``None`` for a walk-in the clerk did not look up (about 30 %)."""
        if self.customers == 0 or unit(self.seed, "sq-orders", index, "anonymous") < 0.3:
            return None
        return 1 + pick(self.seed, "sq-orders", index, "customer", self.customers)

    def line_items(self, index: int) -> list[tuple[str, str, int, int]]:
        """``(sku, name, quantity, gross amount)`` of each line."""
        first = pick(self.seed, "sq-orders", index, "first-product", len(PRODUCTS))
        lines = []
        for offset in range(1 + pick(self.seed, "sq-orders", index, "lines", 4)):
            sku, name, price = PRODUCTS[(first + offset * 5) % len(PRODUCTS)]
            quantity = 1 + pick(self.seed, "sq-orders", index, f"qty{offset}", 3)
            lines.append((sku, name, quantity, price * quantity))
        return lines

    def discount(self, index: int) -> tuple[str | None, str, int] | None:
        """``(coupon code or None, name, yen)`` of the order's discount, for about 15 % of sales."""
        if unit(self.seed, "sq-orders", index, "discount") >= 0.15:
            return None
        return COUPONS[pick(self.seed, "sq-orders", index, "coupon", len(COUPONS))]

    def order_total(self, index: int) -> int:
        """What the customer paid, tax included."""
        gross = sum(line[3] for line in self.line_items(index))
        found = self.discount(index)
        return max(0, gross - (found[2] if found else 0))

    def tender(self, index: int) -> str:
        """How the sale was paid."""
        return TENDERS[pick(self.seed, "sq-orders", index, "tender", len(TENDERS))]


def _address(someone: town.Person) -> dict[str, str]:
    """A Square ``Address`` in Japan: prefecture, city, street, then the building if any."""
    address = {
        "address_line_1": someone.street,
        "locality": someone.city,
        "administrative_district_level_1": town.PREFECTURES[someone.prefecture],
        "postal_code": someone.postal_code,
        "country": "JP",
    }
    if someone.building:
        address["address_line_2"] = someone.building
    return address
