"""API objects become canonical records; what does not fit becomes a Rejected without personal data."""

from __future__ import annotations

import json
from datetime import date

import pytest

from connectors.example.mapping import customer_to_profile, order_to_purchase
from connectors.example.sandbox.data import generate_dataset
from core.records import Profile, Purchase
from core.sync.contract import Rejected
from core.sync.mapping import map_record, map_records

DATA = generate_dataset(customers=57, orders=83, seed=2026)


def customer(**changes: object) -> dict:
    return {**DATA["customers"][0], **changes}


def order(state: str = "completed", **changes: object) -> dict:
    found = next(row for row in DATA["orders"] if row["state"] == state)
    return {**found, **changes}


def test_every_generated_record_maps_without_rejects():
    assert all(isinstance(r, Profile) for r in map_records("shop", DATA["customers"], customer_to_profile))
    assert all(isinstance(r, Purchase) for r in map_records("shop", DATA["orders"], order_to_purchase))


def test_customer_names_and_kana_are_family_name_first_and_the_address_joined():
    profile = customer_to_profile(
        "shop",
        customer(family_name="山田", given_name="花子", family_name_kana="ヤマダ", given_name_kana="ハナコ",
                 prefecture="東京都", address1="新宿区西新宿2丁目8番1号", address2="都庁ビル101号室",
                 birthday="1990-02-03"),
    )  # fmt: skip
    assert (profile.name, profile.kana) == ("山田 花子", "ヤマダ ハナコ")
    assert profile.address == "東京都新宿区西新宿2丁目8番1号 都庁ビル101号室"
    assert profile.birthday == date(1990, 2, 3)
    assert (profile.source, profile.external_id) == ("shop", DATA["customers"][0]["id"])


def test_absent_customer_fields_stay_none():
    profile = customer_to_profile("shop", customer(email=None, phone=None, address1=None, address2=None))
    assert (profile.email, profile.phone, profile.address) == (None, None, None)


def test_a_store_order_maps_amounts_lines_and_channel():
    raw = order(channel="pos", store_code="S003")
    purchase = order_to_purchase("shop", raw)
    assert (purchase.channel, purchase.store_code, purchase.status) == ("store", "S003", "completed")
    assert (purchase.total_amount, purchase.tax_amount, purchase.discount_amount) == (
        raw["total"], raw["tax"], raw["discount"])  # fmt: skip
    assert [line.line_no for line in purchase.lines] == list(range(1, len(raw["line_items"]) + 1))
    assert purchase.lines[0].product_name == raw["line_items"][0]["name"]
    assert purchase.customer_external_id == raw["customer_id"]


def test_a_canceled_order_becomes_cancelled_with_a_cancel_adjustment():
    purchase = order_to_purchase("shop", order("canceled"))
    assert purchase.status == "cancelled"
    assert [adjustment.kind for adjustment in purchase.adjustments] == ["cancel"]
    assert purchase.adjustments[0].amount == purchase.total_amount


def test_an_online_order_has_no_store():
    purchase = order_to_purchase("shop", order(channel="ec", store_code=None))
    assert (purchase.channel, purchase.store_code) == ("online", None)


def test_a_record_without_id_is_rejected_without_an_external_id():
    raw = customer()
    del raw["id"]
    rejected = map_record("shop", raw, customer_to_profile)
    assert isinstance(rejected, Rejected)
    assert rejected.external_id is None
    assert rejected.reason == "id: Field required"
    assert json.loads(rejected.payload) == raw


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (order(total="千円"), "total"),
        (order(line_items=[{**order()["line_items"][0], "quantity": -2}]), "line_items.0.quantity"),
        (order(ordered_at="2026-04-01T10:00:00"), "ordered_at"),
        (order(channel="vending"), "channel"),
        (order(tax=500_000_000), "tax_amount"),
    ],
    ids=["wrong-type", "negative-quantity", "naive-timestamp", "unknown-channel", "out-of-range"],
)
def test_an_invalid_order_is_rejected_naming_the_field(raw, field):
    rejected = map_record("shop", raw, order_to_purchase)
    assert isinstance(rejected, Rejected)
    assert rejected.external_id == raw["id"]
    assert rejected.reason.startswith(f"{field}: ")


def test_a_rejection_reason_never_repeats_the_value():
    raw = customer(email=["naoto@example.jp"], phone=9012345678, birthday="1990-13-45")
    rejected = map_record("shop", raw, customer_to_profile)
    assert isinstance(rejected, Rejected)
    assert rejected.reason.count(": ") == 3
    for value in ("naoto@example.jp", "9012345678", "1990-13-45", raw["family_name"]):
        assert value not in rejected.reason


def test_a_page_item_that_is_not_an_object_is_rejected_in_place():
    records = map_records("shop", [DATA["customers"][0], "garbage", None], customer_to_profile)
    assert isinstance(records[0], Profile)
    assert [type(record) for record in records[1:]] == [Rejected, Rejected]
    assert records[1].reason == "record is not a JSON object"
