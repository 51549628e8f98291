"""Square customers and orders as canonical records: notations clerks leave, refunds, walk-ins, misfits."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.square.mapping import CUSTOM_AMOUNT, customer_to_profile, order_mapper
from core.records import Profile, Purchase
from core.sync.contract import Rejected
from core.sync.mapping import map_record, map_records

SOURCE = "square-test"


def customer(**fields: Any) -> dict[str, Any]:
    """A Square customer as SearchCustomers returns it, with ``fields`` replaced."""
    base: dict[str, Any] = {
        "id": "JDKYHBWT1D4F8MFH63DBMEN8Y4", "given_name": "花子", "family_name": "佐藤",
        "email_address": "hanako.sato@example.jp", "phone_number": "090-1234-5678",
        "address": {"address_line_1": "神宮前1丁目2番3号", "address_line_2": "青山ハイツ101号室", "locality": "渋谷区",
                    "administrative_district_level_1": "東京都", "postal_code": "150-0001", "country": "JP"},
        "birthday": "1988-04-12", "created_at": "2025-06-01T01:00:00.000Z", "updated_at": "2025-06-02T03:04:05.678Z",
        "version": 3,
    }  # fmt: skip
    return {**base, **fields}


def money(amount: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": "JPY"}


def order(**fields: Any) -> dict[str, Any]:
    """A completed Square order of two lines, 5,830 yen tax included, with ``fields`` replaced."""
    base: dict[str, Any] = {
        "id": "CAISENSAMPLE0RDER00000000001", "location_id": "L88917AVBK2S5",
        "customer_id": "JDKYHBWT1D4F8MFH63DBMEN8Y4", "state": "COMPLETED",
        "line_items": [
            {"uid": "a", "catalog_object_id": "ITEM-1", "name": "信楽焼 湯呑み", "quantity": "2",
             "base_price_money": money(1980), "total_money": money(3960)},
            {"uid": "b", "name": "竹製 菜箸", "quantity": "3", "base_price_money": money(660),
             "total_money": money(1980)},
        ],
        "discounts": [{"uid": "d", "name": "春のクーポン", "metadata": {"coupon_code": "spring300"},
                       "applied_money": money(300)}],
        "total_money": money(5640), "total_tax_money": money(512), "total_discount_money": money(300),
        "created_at": "2025-06-03T05:00:00.000Z", "updated_at": "2025-06-03T05:01:00.000Z",
        "closed_at": "2025-06-03T05:01:00.000Z",
    }  # fmt: skip
    return {**base, **fields}


def purchase(raw: dict[str, Any], **store_codes: str) -> Purchase | Rejected:
    mapped = map_record(SOURCE, raw, order_mapper(store_codes))
    assert isinstance(mapped, Purchase | Rejected)
    return mapped


def test_a_customer_in_kanji_becomes_a_profile_family_name_first() -> None:
    profile = customer_to_profile(SOURCE, customer())
    assert isinstance(profile, Profile)
    assert (profile.name, profile.kana) == ("佐藤 花子", None)
    assert profile.address == "東京都渋谷区神宮前1丁目2番3号 青山ハイツ101号室"
    assert (profile.postal_code, profile.birthday) == ("150-0001", date(1988, 4, 12))
    assert profile.source_updated_at.microsecond == 678_000


def test_a_name_typed_in_katakana_is_taken_as_the_reading() -> None:
    profile = customer_to_profile(SOURCE, customer(given_name="ハナコ", family_name="サトウ"))
    assert (profile.name, profile.kana) == (None, "サトウ ハナコ")


@pytest.mark.parametrize("phone", ["090-1234-5678", "+81 90-1234-5678", "09012345678"])
def test_phones_are_passed_on_as_the_clerk_typed_them_for_the_hub_to_normalise(phone: str) -> None:
    assert customer_to_profile(SOURCE, customer(phone_number=phone)).phone == phone


def test_missing_contact_fields_stay_absent() -> None:
    raw = customer()
    for name in ("email_address", "phone_number", "address", "birthday"):
        raw.pop(name)
    profile = customer_to_profile(SOURCE, raw)
    assert (profile.email, profile.phone, profile.address, profile.postal_code, profile.birthday) == (None,) * 5


def test_a_birthday_without_its_year_is_no_date_of_birth() -> None:
    assert customer_to_profile(SOURCE, customer(birthday="0000-04-12")).birthday is None
    assert customer_to_profile(SOURCE, customer(birthday="04-12")).birthday is None


def test_an_order_becomes_a_store_purchase_with_its_lines_and_coupon_code() -> None:
    mapped = purchase(order(), L88917AVBK2S5="S01")
    assert isinstance(mapped, Purchase)
    assert (mapped.channel, mapped.store_code, mapped.status) == ("store", "S01", "completed")
    assert (mapped.total_amount, mapped.tax_amount, mapped.discount_amount) == (5640, 512, 300)
    assert [(line.sku, line.quantity, line.unit_price, line.amount) for line in mapped.lines] == [
        ("ITEM-1", 2, 1980, 3960),
        (None, 3, 660, 1980),
    ]
    assert mapped.coupon_codes == ("SPRING300",)
    assert mapped.customer_external_id == "JDKYHBWT1D4F8MFH63DBMEN8Y4"


def test_a_location_without_a_store_code_is_its_own_code() -> None:
    mapped = purchase(order())
    assert isinstance(mapped, Purchase) and mapped.store_code == "L88917AVBK2S5"


def test_a_walk_in_sale_has_no_customer() -> None:
    raw = order()
    raw.pop("customer_id")
    mapped = purchase(raw)
    assert isinstance(mapped, Purchase) and mapped.customer_external_id is None


def test_a_clerks_discount_without_a_code_adds_no_coupon() -> None:
    mapped = purchase(order(discounts=[{"uid": "d", "name": "店頭値引き", "applied_money": money(200)}]))
    assert isinstance(mapped, Purchase) and mapped.coupon_codes == ()


def test_a_custom_amount_line_gets_a_name() -> None:
    line = {"uid": "c", "quantity": "1", "base_price_money": money(500), "total_money": money(500)}
    mapped = purchase(order(line_items=[line]))
    assert isinstance(mapped, Purchase) and mapped.lines[0].product_name == CUSTOM_AMOUNT


def test_completed_refunds_become_adjustments_and_set_the_status() -> None:
    partial = {"id": "RF1", "status": "COMPLETED", "amount_money": money(1980), "created_at": "2025-06-05T01:00:00Z"}
    pending = {"id": "RF2", "status": "PENDING", "amount_money": money(3660), "created_at": "2025-06-05T02:00:00Z"}
    mapped = purchase(order(refunds=[partial, pending]))
    assert isinstance(mapped, Purchase)
    assert mapped.status == "partially_refunded"
    assert [(adjustment.external_id, adjustment.kind, adjustment.amount) for adjustment in mapped.adjustments] == [
        ("RF1", "refund", 1980)
    ]
    rest = {**pending, "status": "COMPLETED"}
    refunded = purchase(order(refunds=[partial, rest]))
    assert isinstance(refunded, Purchase) and refunded.status == "refunded"


def test_a_canceled_order_is_cancelled() -> None:
    mapped = purchase(order(state="CANCELED"))
    assert isinstance(mapped, Purchase) and mapped.status == "cancelled"


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        ({"quantity": "1.5"}, "line_items.0.quantity"),
        ({"quantity": "-2"}, "line_items.0.quantity"),
        ({"total_money": money("千円")}, "line_items.0.total_money.amount"),
    ],
)
def test_a_broken_line_rejects_the_order_naming_the_field_not_the_value(broken: dict[str, Any], field: str) -> None:
    raw = order()
    raw["line_items"][0].update(broken)
    mapped = purchase(raw)
    assert isinstance(mapped, Rejected)
    assert mapped.external_id == raw["id"] and field in mapped.reason
    assert "千円" not in mapped.reason and "1.5" not in mapped.reason


def test_garbage_customers_are_rejected_and_the_rest_of_the_page_kept() -> None:
    page = [customer(id=None), customer(updated_at="昨日"), customer(birthday="いつか"), customer(email_address=12345),
            customer()]  # fmt: skip
    mapped = map_records(SOURCE, page, customer_to_profile)
    assert [type(record) for record in mapped] == [Rejected] * 4 + [Profile]
    reasons = " ".join(record.reason for record in mapped if isinstance(record, Rejected))
    assert "昨日" not in reasons and "いつか" not in reasons and "佐藤" not in reasons and "12345" not in reasons


def test_another_currency_is_rejected() -> None:
    mapped = purchase(order(total_money={"amount": 100, "currency": "USD"}))
    assert isinstance(mapped, Rejected) and "total_money.currency" in mapped.reason
