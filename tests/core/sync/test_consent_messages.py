"""``member.consent`` messages: a member's newest email consent, told once to each other system holding them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from core.records import CanonicalRecord, ConsentChange, Profile
from core.store.models import OutboxMessage
from core.sync.consent_messages import ConsentMessages, ConsentSettings

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)
NOW = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
EMAIL = "hanako@example.jp"


def person(source: str, external_id: str) -> Profile:
    """The same person in two systems: one verified email, so both records are one member."""
    return Profile(source=source, external_id=external_id, source_updated_at=T0, name="山田 花子", email=EMAIL,
                   email_verified=True)  # fmt: skip


def consent(source: str, external_id: str, subscribed: bool, *, minute: int = 0, channel: str = "email",
            customer: str | None = None) -> ConsentChange:  # fmt: skip
    moment = T0 + timedelta(minutes=minute)
    customer = customer or {"shop": "gid://shopify/Customer/1", "mail": "m-1"}[source]
    return ConsentChange(
        source=source, external_id=external_id, source_updated_at=moment, changed_at=moment, channel=channel,
        subscribed=subscribed, customer_external_id=customer,
    )  # fmt: skip


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """SQLite for each behaviour; the test marked ``postgresql`` runs the same statements there too."""
    return str(request.getfixturevalue(f"{request.param}_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def send(sync_kit):
    """Store records through the sink and send their consent, in one transaction, as the hub does."""
    messages = ConsentMessages(("shop", "crm"), sync_kit.outbox)

    def apply(*records: CanonicalRecord) -> int:
        with sync_kit.engine.begin() as conn:
            sync_kit.sink.apply(conn, list(records))
            return messages.send(conn, [r for r in records if isinstance(r, ConsentChange)], NOW)

    apply(person("shop", "gid://shopify/Customer/1"), person("mail", "m-1"), person("crm", "c-1"))
    return apply


def sent(sync_kit) -> list[tuple[str, dict[str, Any]]]:
    """The ``member.consent`` messages written, oldest first: (destination, opened payload)."""
    m = OutboxMessage
    query = select(m.destination, m.idempotency_key, m.payload_ct).where(m.kind == "member.consent").order_by(m.id)
    with sync_kit.engine.connect() as conn:
        rows = conn.execute(query).all()
    opened = [sync_kit.outbox.open(row.payload_ct, owner=quote(row.idempotency_key, safe="")) for row in rows]
    return [(row.destination, json.loads(text)) for row, text in zip(rows, opened, strict=True)]


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_consent_change_goes_to_every_destination_holding_the_member(sync_kit, send):
    written = send(consent("mail", "e-1", False, minute=5))

    payloads = dict(sent(sync_kit))
    assert written == 2 and set(payloads) == {"shop", "crm"}
    assert payloads["shop"] == {
        "member_id": payloads["crm"]["member_id"], "customer_id": "gid://shopify/Customer/1", "channel": "email",
        "subscribed": False, "changed_at": "2026-12-01T01:05:00+00:00",
    }  # fmt: skip
    assert payloads["crm"]["customer_id"] == "c-1"


def test_a_change_is_never_echoed_to_the_system_it_came_from(sync_kit, send):
    send(consent("shop", "e-1", True, minute=5))

    assert [destination for destination, _ in sent(sync_kit)] == ["crm"]


def test_the_same_change_stored_again_sends_nothing_new(sync_kit, send):
    send(consent("mail", "e-1", True, minute=5))
    again = send(consent("mail", "e-1", True, minute=5))

    assert again == 0 and len(sent(sync_kit)) == 2


def test_an_older_change_arriving_late_leaves_the_newer_consent_standing(sync_kit, send):
    send(consent("mail", "e-2", False, minute=30))
    late = send(consent("mail", "e-1", True, minute=5))

    assert late == 0
    assert [payload["subscribed"] for _, payload in sent(sync_kit)] == [False, False]


def test_a_newer_version_of_the_same_event_is_sent_again(sync_kit, send):
    send(consent("mail", "e-1", True, minute=5))
    send(consent("mail", "e-1", False, minute=6))

    assert [payload["subscribed"] for destination, payload in sent(sync_kit) if destination == "shop"] == [True, False]


def test_other_channels_and_members_without_a_customer_there_send_nothing(sync_kit, send):
    assert send(consent("mail", "s-1", True, minute=5, channel="sms")) == 0
    assert send(consent("mail", "e-9", True, minute=5, customer="m-stranger")) == 0
    assert sent(sync_kit) == []


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"destinations": ["Shop Tokyo"]}, "destinations.0"),
        ({"destinations": ["shop", "shop"]}, "repeated: shop"),
        ({"destination": ["shop"]}, "destination"),
    ],
)
def test_consent_settings_name_the_bad_key(table, problem):
    with pytest.raises(ValidationError, match=problem):
        ConsentSettings.model_validate(table)
