"""End to end: a survey answer arrives through a connector, a coupon is issued, the outbox carries it to the
mail destination, and a later purchase carrying the code uses it up.

Everything real: the sync engine reads the survey app (``survey_app.py``) in a child process, the ingest sink
stores the batch and applies the loyalty rules in the batch's transaction, the dispatcher delivers the outbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from core.crypto.key_providers import KeyFileProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer
from core.loyalty import LoyaltyEngine
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.keys import load_verified_ring
from core.plugins.manager import build_plugin_manager
from core.store import models
from core.store.database import create_hub_engine, read_only, upgrade_database
from core.sync.engine import SyncEngine
from core.sync.ingest import StoreSink
from core.sync.outbox import OutboxDispatcher
from core.sync.payloads import PayloadSealer
from core.sync.registry import ConnectorRegistry, InstanceConfig
from tests.core.loyalty.conftest import T0, Clock, make_rules
from tests.core.loyalty.survey_app import sent_messages
from tests.core.loyalty.test_coupons import SURVEYS, TEMPLATES

PLUGIN = "tests.core.loyalty.survey_app"


@dataclass
class Hub:
    """The store, the sync engine with the survey app's instances, and the outbox dispatcher."""

    engine: Engine
    sync: SyncEngine
    dispatcher: OutboxDispatcher
    crm: Path
    helpdesk: Path

    def export(self, stream: str, items: list[dict[str, Any]]) -> None:
        (self.crm / f"{stream}.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")

    def rows(self, query: Any) -> list[Any]:
        with read_only(self.engine).connect() as conn:
            return list(conn.execute(query).all())


@pytest.fixture
def hub(db_url: str, tmp_path: Path) -> Iterator[Hub]:
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    provider = KeyFileProvider(tmp_path / "keys" / "keyring.json")
    provider.create(KeyRing.generate())
    ring = load_verified_ring(engine, provider)
    clock = Clock(T0 + timedelta(hours=1))
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(tmp_path / "keys" / "ledger.jsonl"))
    outbox = PayloadSealer(engine, ring, "outbox")
    rules = make_rules(coupons=[{**TEMPLATES[0], "email_destination": "crm"}, TEMPLATES[1]], surveys=SURVEYS)
    sink = StoreSink(directory, loyalty=LoyaltyEngine(rules, clock, outbox=outbox), clock=clock)
    crm, helpdesk = tmp_path / "crm", tmp_path / "helpdesk"
    instances = {
        name: InstanceConfig(name=name, type="survey-app", settings={"directory": str(path)}, deadline_s=60)
        for name, path in (("crm", crm), ("helpdesk", helpdesk))
    }
    registry = ConnectorRegistry.from_plugins(build_plugin_manager(extra_plugins=(PLUGIN,)), instances)
    sync = SyncEngine(engine, registry, sink, PayloadSealer(engine, ring, "dead_letters"), extra_plugins=(PLUGIN,))
    dispatcher = OutboxDispatcher(engine, outbox, registry.build, clock=clock)  # type: ignore[arg-type]
    crm.mkdir()
    helpdesk.mkdir()
    yield Hub(engine, sync, dispatcher, crm, helpdesk)
    engine.dispose()


def test_a_survey_answer_issues_a_coupon_that_is_mailed_and_used_by_a_later_purchase(hub):
    answered = T0.isoformat()
    hub.export("survey_responses", [{
        "external_id": "resp-1", "source_updated_at": answered, "customer_external_id": "cust-1",
        "survey_code": "post-purchase", "answers": {"satisfaction": "1"}, "answered_at": answered,
    }])  # fmt: skip

    assert hub.sync.run("crm", "survey_responses").status == "succeeded"
    assert hub.sync.run("crm", "survey_responses", full_refresh=True).status == "succeeded"  # synced again
    delivered = {report.destination: report.delivered for report in hub.dispatcher.dispatch_due()}

    [coupon] = hub.rows(select(models.Coupon))
    assert delivered == {"crm": 1, "helpdesk": 1}
    [mail] = sent_messages(hub.crm)
    assert (mail["kind"], mail["payload"]["coupon_code"]) == ("coupon.issued", coupon.code)
    assert mail["payload"]["customer_id"] == "cust-1"  # the app addresses its own customer; the hub sends no address
    [call] = sent_messages(hub.helpdesk)
    assert (call["kind"], call["payload"]["rule"], call["payload"]["answer"]) == ("survey.call_center", "low", "1")

    bought = (T0 + timedelta(days=3)).isoformat()
    hub.export("purchases", [{
        "external_id": "order-1", "source_updated_at": bought, "customer_external_id": "cust-1", "channel": "online",
        "total_amount": 4_500, "purchased_at": bought, "coupon_codes": [mail["payload"]["coupon_code"].lower()],
    }])  # fmt: skip
    assert hub.sync.run("crm", "purchases").status == "succeeded"

    [use] = hub.rows(select(models.CouponRedemption))
    assert (use.coupon_id, use.status) == (coupon.id, "redeemed")
    [used] = hub.rows(select(models.Coupon))
    assert used.used_at is not None
