"""A survey-and-mail app as a connector plugin, for end-to-end tests: its system is a directory of files.

The app's export is one JSON file per stream (``survey_responses.json``, ``purchases.json``: lists of
canonical records as JSON); what the hub sends it (coupon emails, call-center notifications) lands in
``sent.jsonl``, one delivery per idempotency key, as a mail service that drops duplicates would keep them.
Files, not memory: the engine reads every stream in a child process, which imports this module afresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.plugins import hookimpl
from core.records import CanonicalRecord, Purchase, SurveyResponse
from core.sync.contract import Batch, CheckResult, ConnectorType, OutboundMessage, StreamSpec
from core.sync.cursor import StreamCursor

STREAMS = (StreamSpec("survey_responses", SurveyResponse), StreamSpec("purchases", Purchase))
_TYPES: dict[str, type[CanonicalRecord]] = {spec.name: spec.record_type for spec in STREAMS}


class SurveyAppConfig(BaseModel):
    """Where the app's files are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: Path


class SurveyApp:
    """Reads the export files from an inclusive ``updated_since``; records deliveries in ``sent.jsonl``."""

    streams = STREAMS
    outbound_kinds = ("coupon.issued", "survey.call_center")

    def __init__(self, instance: str, config: SurveyAppConfig) -> None:
        self.instance = instance
        self.directory = config.directory

    def check(self) -> CheckResult:
        return CheckResult(ok=self.directory.is_dir(), message=f"export directory {self.directory.name}")

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        since = StreamCursor.from_json(cursor).updated_since
        path = self.directory / f"{stream}.json"
        items = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        records = [_TYPES[stream].model_validate({**item, "source": self.instance}) for item in items]
        fresh = [r for r in records if since is None or r.source_updated_at >= since]
        high_water = max((r.source_updated_at for r in fresh), default=since)
        yield Batch(fresh, StreamCursor(high_water).to_json())

    def deliver(self, message: OutboundMessage) -> None:
        if any(sent["idempotency_key"] == message.idempotency_key for sent in sent_messages(self.directory)):
            return
        line = {"kind": message.kind, "idempotency_key": message.idempotency_key, "payload": dict(message.payload)}
        with (self.directory / "sent.jsonl").open("a", encoding="utf-8") as sent:
            sent.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        pass


def sent_messages(directory: Path) -> list[dict[str, Any]]:
    """What the app has received, in order."""
    path = directory / "sent.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def _create(instance: str, config: SurveyAppConfig, secrets: Mapping[str, str]) -> SurveyApp:
    return SurveyApp(instance, config)


@hookimpl
def memberhub_connector_types() -> list[ConnectorType]:
    """The survey app's connector type."""
    return [ConnectorType("survey-app", "surveys and mail (test files)", SurveyAppConfig, _create, streams=STREAMS)]
