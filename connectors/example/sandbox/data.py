"""Deterministic, realistic Japanese data for the sandbox: customers and their orders, in the API's JSON.

The same seed gives the same rows (with a given Faker version). Timestamps are JST (+09:00), whole seconds.
Rows share an ``updated_at`` on purpose, to exercise the ``(updated_at, id)`` order and the inclusive
``updated_since``: now and then two in the same second, and once a burst of ``BURST`` rows (a bulk re-import,
an offline till uploading its receipts), longer than a page, so some page boundary falls inside a tie.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from faker import Faker

JST = timezone(timedelta(hours=9))
EPOCH = datetime(2026, 4, 1, 10, 0, tzinfo=JST)
TAX_RATE_PERCENT = 10
BURST = 13

# Only standard-rate (10 %) goods: food and non-alcoholic drinks would take the 8 % reduced rate.
PRODUCTS: tuple[tuple[str, str, int], ...] = (
    ("SKU-1001", "今治タオル フェイスタオル", 1650),
    ("SKU-1002", "南部鉄器 急須 0.6L", 8800),
    ("SKU-1003", "有田焼 マグカップ", 2420),
    ("SKU-1004", "純米吟醸 720ml", 1650),
    ("SKU-1005", "手ぬぐい 注染 桜柄", 990),
    ("SKU-1006", "洗濯洗剤 詰め替え 1.2kg", 328),
    ("SKU-1007", "ハンドクリーム 柚子", 880),
    ("SKU-1008", "靴下 3足組", 1089),
    ("SKU-1009", "折りたたみ傘", 2980),
    ("SKU-1010", "弁当箱 曲げわっぱ", 4950),
    ("SKU-1011", "扇子 京都", 3300),
    ("SKU-1012", "万年筆 インク 青", 770),
)
STORE_CODES: tuple[str, ...] = ("S001", "S002", "S003", "S004", "S005", "S006")
_MOBILE_PREFIXES = ("070", "080", "090")
_DOMAINS = ("example.jp", "example.co.jp", "example.ne.jp", "example.com")


def generate_dataset(*, customers: int, orders: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """``{"customers": [...], "orders": [...]}`` as the API serves them; a fresh copy on every call."""
    return copy.deepcopy(_dataset(customers, orders, seed))


@cache
def _dataset(customers: int, orders: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    people = [_customer(fake, rng, index, moment) for index, moment in _timeline(rng, customers)]
    ids = [person["id"] for person in people]
    sales = [_order(rng, index, moment, ids) for index, moment in _timeline(rng, orders)]
    return {"customers": _bulk_touched(people), "orders": _bulk_touched(sales)}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _timeline(rng: random.Random, count: int) -> list[tuple[int, datetime]]:
    """Numbered creation times, 10–90 minutes apart; about one in seven shares the previous one's second."""
    moments: list[tuple[int, datetime]] = []
    now = EPOCH
    for index in range(1, count + 1):
        if not moments or rng.random() >= 0.15:
            now += timedelta(seconds=rng.randrange(600, 5400))
        moments.append((index, now))
    return moments


def _bulk_touched(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``BURST`` rows from a third of the way on, stamped with one ``updated_at`` by a bulk update."""
    burst = rows[len(rows) // 3 : len(rows) // 3 + BURST]
    if burst:
        moment = max(datetime.fromisoformat(row["updated_at"]) for row in burst) + timedelta(minutes=5)
        for row in burst:
            row["updated_at"] = _iso(moment)
    return rows


def _customer(fake: Faker, rng: random.Random, index: int, created: datetime) -> dict[str, Any]:
    last, last_kana, last_roman = fake.last_name_pair()
    female = rng.random() < 0.55
    first, first_kana, first_roman = fake.first_name_female_pair() if female else fake.first_name_male_pair()
    edited = rng.random() < 0.3
    updated = created + timedelta(days=rng.randrange(1, 30)) if edited else created
    has_building = rng.random() < 0.4
    return {
        "id": f"cus_{index:06d}",
        "family_name": last,
        "given_name": first,
        "family_name_kana": last_kana,
        "given_name_kana": first_kana,
        "email": f"{first_roman.lower()}.{last_roman.lower()}{index}@{rng.choice(_DOMAINS)}"
        if rng.random() < 0.9
        else None,
        "phone": _mobile_number(rng) if rng.random() < 0.95 else None,
        "postal_code": fake.zipcode(),
        "prefecture": fake.prefecture(),
        "address1": f"{fake.city()}{fake.town()}{fake.chome()}{fake.ban()}{fake.gou()}",
        "address2": f"{fake.building_name()}{rng.randrange(1, 13)}{rng.randrange(1, 11):02d}号室"
        if has_building
        else None,
        "birthday": fake.date_of_birth(minimum_age=18, maximum_age=85).isoformat() if rng.random() < 0.7 else None,
        "tags": [],
        "created_at": _iso(created),
        "updated_at": _iso(updated),
    }


def _mobile_number(rng: random.Random) -> str:
    """A valid Japanese mobile number (070/080/090, then a digit 1–9) in the common hyphenated notation."""
    return f"{rng.choice(_MOBILE_PREFIXES)}-{rng.randrange(1000, 10000)}-{rng.randrange(10000):04d}"


def _order(rng: random.Random, index: int, ordered: datetime, customer_ids: list[str]) -> dict[str, Any]:
    at_store = rng.random() < 0.7
    lines = _line_items(rng)
    subtotal = sum(line["amount"] for line in lines)
    discount = rng.choice((100, 300, 500)) if rng.random() < 0.2 and subtotal > 500 else 0
    tax = (subtotal - discount) * TAX_RATE_PERCENT // 100  # consumption tax rounded down per receipt
    total = subtotal - discount + tax
    state, refunds = _after_sale(rng, index, ordered, total, lines)
    return {
        "id": f"ord_{index:07d}",
        "customer_id": rng.choice(customer_ids) if customer_ids and rng.random() < 0.85 else None,
        "channel": "pos" if at_store else "ec",
        "store_code": rng.choice(STORE_CODES) if at_store else None,
        "state": state,
        "currency": "JPY",
        "subtotal": subtotal,
        "discount": discount,
        "tax": tax,
        "total": total,
        "ordered_at": _iso(ordered),
        "line_items": lines,
        "refunds": refunds,
        "created_at": _iso(ordered),
        "updated_at": refunds[-1]["created_at"] if refunds else _iso(ordered),
    }


def _line_items(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for sku, name, price in rng.sample(PRODUCTS, rng.randrange(1, 5)):
        quantity = rng.randrange(1, 4)
        items.append({"sku": sku, "name": name, "quantity": quantity, "unit_price": price,
                      "amount": price * quantity})  # fmt: skip
    return items


def _after_sale(
    rng: random.Random, index: int, ordered: datetime, total: int, lines: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """A few orders are cancelled, refunded in full, or have one line refunded (tax included)."""
    roll = rng.random()
    later = _iso(ordered + timedelta(days=rng.randrange(1, 10)))
    if roll < 0.06:
        return "canceled", [{"id": f"rf_{index:07d}", "type": "cancel", "amount": total, "created_at": later}]
    if roll < 0.10:
        amount = lines[0]["amount"] * (100 + TAX_RATE_PERCENT) // 100
        return "partially_refunded", [
            {"id": f"rf_{index:07d}", "type": "refund", "amount": min(amount, total), "created_at": later}
        ]
    if roll < 0.13:
        return "refunded", [{"id": f"rf_{index:07d}", "type": "refund", "amount": total, "created_at": later}]
    return "completed", []
