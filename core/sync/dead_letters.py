"""Quarantine: a record failing mapping or validation is sealed with its reason; the batch goes on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Row

from core.records import CanonicalRecord
from core.store import sync as repo
from core.sync.contract import Rejected
from core.sync.payloads import PayloadSealer

TABLE = "dead_letters"


@dataclass(frozen=True)
class Quarantined:
    """One refused item: its id, a PII-free reason, the error class and the payload envelope to seal."""

    external_id: str | None
    reason: str
    error_class: str
    envelope: str

    @classmethod
    def from_source(cls, rejected: Rejected) -> Quarantined:
        """A record the connector could not map; its raw text is kept for re-mapping after a fix."""
        envelope = json.dumps({"format": "source", "raw": rejected.payload}, ensure_ascii=False)
        return cls(rejected.external_id, rejected.reason, "MappingError", envelope)

    @classmethod
    def from_record(cls, record: CanonicalRecord, reason: str, error_class: str) -> Quarantined:
        """A canonical record the hub refused (an invalid phone, say); kept in canonical form for replay."""
        envelope = json.dumps({"format": "canonical", "record": record.model_dump(mode="json")}, ensure_ascii=False)
        return cls(record.external_id, reason, error_class, envelope)


def quarantine(
    conn: Connection,
    sealer: PayloadSealer,
    connector: str,
    stream: str,
    items: Sequence[Quarantined],
    now: datetime,
) -> None:
    """Store refused items in the caller's transaction, payloads sealed under the dead-letter key."""
    rows: list[dict[str, object]] = [
        {
            "connector": connector,
            "stream": stream,
            "external_id": item.external_id,
            "reason": item.reason[:500],
            "error_class": item.error_class,
            "status": "pending",
            "created_at": now,
            "payload_ct": sealer.seal(item.envelope, owner=_owner(connector, stream, item.external_id)),
        }
        for item in items
    ]
    repo.add_dead_letters(conn, rows)


def open_payload(sealer: PayloadSealer, row: Row[Any]) -> dict[str, Any]:
    """The decrypted payload envelope of a dead-letter row (authorised roles only)."""
    envelope = sealer.open(row.payload_ct, owner=_owner(row.connector, row.stream, row.external_id))
    return json.loads(envelope)  # type: ignore[no-any-return]


def _owner(connector: str, stream: str, external_id: str | None) -> str:
    return "/".join(quote(part, safe="") for part in (connector, stream, external_id or "-"))
