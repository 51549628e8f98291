"""Realistic inputs for the seeds, from the sandbox emulators' generated accounts (fixed seeds, small sizes).

The emulators are imported when a seed is asked for, not with the target: a fuzzing process never needs them.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.shopify.sandbox.records import ShopRecords
    from connectors.square.sandbox.records import SquareRecords

SEED = 7


@cache
def shopify_shop() -> ShopRecords:
    """A small generated shop: customers and orders rendered as the GraphQL API returns them."""
    from connectors.shopify.sandbox.records import ShopRecords

    return ShopRecords(customers=4, orders=12, seed=SEED)


@cache
def square_seller() -> SquareRecords:
    """A small generated Square seller: customers and orders as its REST API returns them."""
    from connectors.square.sandbox.data import SquareData
    from connectors.square.sandbox.records import SquareRecords

    data = SquareData(customers=4, orders=12, people=6, locations=2, seed=SEED)
    return SquareRecords(data, clock_ms=lambda: 1_790_000_000_000, search_lag_ms=0)


def zendesk_account() -> dict[str, Any]:
    """``{"users", "tickets", "comments"}`` of a small generated Zendesk account."""
    from connectors.zendesk.sandbox.data import generate_account

    return generate_account(users=4, tickets=6, people=6, seed=SEED)


def klaviyo_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Profiles and events of a small generated Klaviyo account."""
    from connectors.klaviyo.sandbox.data import generate_events, generate_profiles

    profiles = generate_profiles(SEED, 4)
    return profiles, generate_events(SEED, profiles, 8)


def example_rows() -> dict[str, list[dict[str, Any]]]:
    """``{"customers", "orders"}`` of a small generated Example API account."""
    from connectors.example.sandbox.data import generate_dataset

    return generate_dataset(customers=4, orders=8, seed=SEED)
