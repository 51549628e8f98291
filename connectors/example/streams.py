"""The streams of the Example API, declared: what each yields, where it is read and how it is mapped."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.example.mapping import customer_to_profile, order_to_purchase
from core.records import Profile, Purchase
from core.sync.contract import StreamSpec
from core.sync.mapping import RecordMapper


@dataclass(frozen=True)
class ExampleStream:
    """A stream's declaration plus the two things that differ per endpoint: its path and its mapper.

    ``event_type`` is the webhook event prefix (``customer`` for ``customer.updated``) carrying the same
    objects, so a delivery is mapped exactly like a page.
    """

    spec: StreamSpec
    path: str
    mapper: RecordMapper
    event_type: str


CUSTOMERS = ExampleStream(
    StreamSpec(name="customers", record_type=Profile, cursor_field="updated_at", primary_key="id"),
    path="/v1/customers",
    mapper=customer_to_profile,
    event_type="customer",
)
ORDERS = ExampleStream(
    StreamSpec(name="orders", record_type=Purchase, cursor_field="updated_at", primary_key="id"),
    path="/v1/orders",
    mapper=order_to_purchase,
    event_type="order",
)
STREAMS: dict[str, ExampleStream] = {stream.spec.name: stream for stream in (CUSTOMERS, ORDERS)}
