"""``member.profile`` messages: a changed profile told once to every other system holding the member."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.members.numbers import looks_like_member_number
from core.records import Profile
from core.store.models import OutboxMessage
from core.sync.ingest import StoreSink
from core.sync.profile_messages import ProfileMessages

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)
EMAIL = "hanako@example.jp"


def person(source: str, external_id: str, minute: int = 0, **fields: Any) -> Profile:
    """The same person in several systems: one verified email makes every record one member."""
    values = {"name": "山田 花子", "email": EMAIL, "email_verified": True, **fields}
    return Profile(source=source, external_id=external_id, source_updated_at=T0 + timedelta(minutes=minute), **values)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def apply(sync_kit):
    """Store records through a sink that tells ``shop`` and ``pos`` of profile changes."""
    sink = StoreSink(
        sync_kit.directory, profiles=ProfileMessages(("shop", "pos"), sync_kit.outbox),
        clock=lambda: datetime(2026, 12, 2, tzinfo=UTC),
    )  # fmt: skip

    def store(*records: Profile) -> None:
        with sync_kit.engine.begin() as conn:
            sink.apply(conn, list(records))

    store(person("shop", "gid://shopify/Customer/1"), person("pos", "sq-1"), person("mail", "m-1"))
    return store


def sent(sync_kit) -> list[tuple[str, dict[str, Any]]]:
    m = OutboxMessage
    query = select(m.destination, m.idempotency_key, m.payload_ct).where(m.kind == "member.profile").order_by(m.id)
    with sync_kit.engine.connect() as conn:
        rows = conn.execute(query).all()
    opened = [sync_kit.outbox.open(row.payload_ct, owner=quote(row.idempotency_key, safe="")) for row in rows]
    return [(row.destination, json.loads(text)) for row, text in zip(rows, opened, strict=True)]


def test_a_new_address_from_the_shop_goes_to_the_pos_and_not_back_to_the_shop(sync_kit, apply):
    assert sent(sync_kit) == []  # creating members tells nobody

    apply(person("shop", "gid://shopify/Customer/1", 5, postal_code="150-0002", address="東京都渋谷区渋谷2-1"))

    [(destination, payload)] = sent(sync_kit)
    assert destination == "pos"
    assert payload["customer_id"] == "sq-1" and payload["changed"] == ["address", "postal_code"]
    assert (payload["postal_code"], payload["address"], payload["name"]) == (
        "150-0002",
        "東京都渋谷区渋谷2-1",
        "山田 花子",
    )
    assert looks_like_member_number(payload["member_number"])


def test_a_change_from_a_third_system_goes_to_both_once(sync_kit, apply):
    apply(person("mail", "m-1", 5, phone="090-1234-5678"))
    apply(person("mail", "m-1", 5, phone="090-1234-5678"))  # the same version again: nothing new

    assert sorted(d for d, _ in sent(sync_kit)) == ["pos", "shop"]
    assert {p["phone"] for _, p in sent(sync_kit)} == {"+819012345678"}


def test_an_older_value_that_loses_the_merge_sends_nothing(sync_kit, apply):
    apply(person("mail", "m-1", 10, phone="090-1111-2222"))
    before = sent(sync_kit)

    apply(person("pos", "sq-1", 1, phone="080-9999-0000"))  # older than the stored phone: it does not win

    assert sent(sync_kit) == before
