"""Reading the streams page by page, each page a batch with the ``StreamCursor`` reached after it.

Between pages the cursor keeps the run's own ``updated_since`` with the next ``page[cursor]`` (a page cursor
belongs to the query that issued it); after the last page it moves to the newest timestamp seen. Survey
answers are read one metric after another: their page token also names the metric being read and the newest
answer seen so far, so a run resumed between pages ends on the same mark as one that was not interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.klaviyo.client import KlaviyoClient
from connectors.klaviyo.config import KlaviyoConfig, SurveyMetric
from connectors.klaviyo.mapping import survey_mapper
from connectors.klaviyo.streams import EVENTS_PATH, PROFILES_PATH, events_query, profiles_query
from core.errors import ConfigError
from core.records import CanonicalRecord
from core.sync.contract import Batch, Rejected
from core.sync.cursor import StreamCursor
from core.sync.mapping import RecordMapper, map_records

SURVEY_META = "survey_metric"


def read_profiles(
    client: KlaviyoClient,
    instance: str,
    config: KlaviyoConfig,
    mapper: RecordMapper,
    cursor: str | None,
    *,
    keep: Callable[[Any], bool] = lambda raw: True,
) -> Iterator[Batch]:
    """Pages of profiles mapped by ``mapper``; raw profiles ``keep`` refuses are skipped (they state nothing)."""
    position = StreamCursor.from_json(cursor)
    since, high, page_cursor = position.updated_since, position.updated_since, position.page
    while True:
        page = client.list_page(PROFILES_PATH, profiles_query(since, config.profiles_page_size), page_cursor)
        records = map_records(instance, [raw for raw in page.items if keep(raw)], mapper)
        high = high_water(records, high)
        page_cursor = page.next_cursor
        reached = StreamCursor(since, page_cursor) if page_cursor else StreamCursor(high)
        yield Batch(records, reached.to_json())
        if page_cursor is None:
            return


@dataclass(frozen=True)
class _SurveyPlace:
    """Where a survey run is: the metric being read, its next page, and the newest answer seen."""

    metric_id: str | None = None
    page: str | None = None
    high: datetime | None = None

    def to_token(self) -> str:
        high = self.high.isoformat() if self.high else None
        return json.dumps({"metric": self.metric_id, "page": self.page, "high": high}, separators=(",", ":"))

    @classmethod
    def from_token(cls, token: str | None) -> _SurveyPlace:
        if token is None:
            return cls()
        try:
            data = json.loads(token)
            high = datetime.fromisoformat(data["high"]) if data.get("high") else None
            return cls(data.get("metric"), data.get("page"), high)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise ConfigError("stored survey cursor is not valid") from None


def read_survey_answers(
    client: KlaviyoClient, instance: str, config: KlaviyoConfig, cursor: str | None
) -> Iterator[Batch]:
    """Pages of survey answers, metric by metric in the order configured."""
    position = StreamCursor.from_json(cursor)
    since, place = position.updated_since, _SurveyPlace.from_token(position.page)
    metrics = survey_metrics(client, config.surveys)
    ids = [metric_id for metric_id, _ in metrics]
    start = ids.index(place.metric_id) if place.metric_id in ids else 0
    page_cursor = place.page if place.metric_id in ids else None
    high = place.high or since
    for index in range(start, len(metrics)):
        metric_id, survey = metrics[index]
        mapper = survey_mapper(survey)
        while True:
            query = events_query(metric_id, since, config.events_page_size)
            page = client.list_page(EVENTS_PATH, query, page_cursor)
            records = map_records(instance, [_tagged(raw, survey) for raw in page.items], mapper)
            high = high_water(records, high)
            page_cursor = page.next_cursor
            following = ids[index + 1] if index + 1 < len(ids) else None
            yield Batch(records, _survey_cursor(since, high, metric_id, page_cursor, following))
            if page_cursor is None:
                break
    if not metrics:
        yield Batch([], StreamCursor(since).to_json())


def survey_metrics(client: KlaviyoClient, surveys: Sequence[SurveyMetric]) -> list[tuple[str, SurveyMetric]]:
    """Each configured survey with the id of every metric of its name (none yet: nobody answered it)."""
    if not surveys:
        return []
    ids = client.metric_ids(survey.metric for survey in surveys)
    return [(metric_id, survey) for survey in surveys for metric_id in sorted(ids[survey.metric])]


def survey_named(surveys: Sequence[SurveyMetric], raw: Any) -> SurveyMetric | None:
    """The survey settings a stored event was read with (its ``meta.survey_metric``), else the first."""
    meta = raw.get("meta") if isinstance(raw, dict) else None
    name = meta.get(SURVEY_META) if isinstance(meta, dict) else None
    return next((survey for survey in surveys if survey.metric == name), surveys[0] if surveys else None)


def high_water(records: Sequence[CanonicalRecord | Rejected], previous: datetime | None) -> datetime | None:
    """The latest ``source_updated_at`` of the page's valid records (a page of rejects keeps the previous)."""
    seen = [record.source_updated_at for record in records if isinstance(record, CanonicalRecord)]
    return max(seen, default=previous)


def _tagged(raw: Any, survey: SurveyMetric) -> Any:
    """The event with the name of its survey metric in ``meta``, so a quarantined one can be mapped again."""
    if not isinstance(raw, dict):
        return raw
    meta = raw.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    return {**raw, "meta": {**meta, SURVEY_META: survey.metric}}


def _survey_cursor(
    since: datetime | None, high: datetime | None, metric_id: str, page: str | None, following: str | None
) -> str:
    if page is not None:
        return StreamCursor(since, _SurveyPlace(metric_id, page, high).to_token()).to_json()
    if following is not None:
        return StreamCursor(since, _SurveyPlace(following, None, high).to_token()).to_json()
    return StreamCursor(high).to_json()
