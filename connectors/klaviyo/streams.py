"""The streams of a Klaviyo account, declared: what each yields and the query it is read with.

``profiles`` and ``consent`` read the same collection (profiles with their subscriptions, by ``updated``);
``survey_answers`` reads the events of each configured survey metric, by ``datetime``. Klaviyo's ``updated``
filter has no inclusive operator, so ``updated_since`` (inclusive, to the second) is sent as "greater than
one second before"; timestamps are whole seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.records import ConsentChange, Profile, SurveyResponse
from core.sync.contract import StreamSpec

PROFILES = StreamSpec(name="profiles", record_type=Profile, cursor_field="updated", primary_key="id")
CONSENT = StreamSpec(name="consent", record_type=ConsentChange, cursor_field="updated", primary_key="id")
SURVEY_ANSWERS = StreamSpec(
    name="survey_answers", record_type=SurveyResponse, cursor_field="datetime", primary_key="id"
)
STREAM_SPECS: dict[str, StreamSpec] = {spec.name: spec for spec in (PROFILES, CONSENT, SURVEY_ANSWERS)}
PROFILES_PATH = "/api/profiles/"
EVENTS_PATH = "/api/events/"


def profiles_query(since: datetime | None, page_size: int) -> dict[str, str | int]:
    """Profiles with their subscriptions, oldest update first, from ``since`` (inclusive) on."""
    params: dict[str, str | int] = {
        "additional-fields[profile]": "subscriptions",
        "sort": "updated",
        "page[size]": page_size,
    }
    if since is not None:
        params["filter"] = f"greater-than(updated,{_instant(since - timedelta(seconds=1))})"
    return params


def events_query(metric_id: str, since: datetime | None, page_size: int) -> dict[str, str | int]:
    """One metric's events, oldest first, from ``since`` (inclusive) on."""
    terms = [f'equals(metric_id,"{metric_id}")']
    if since is not None:
        terms.append(f"greater-or-equal(datetime,{_instant(since)})")
    return {"filter": ",".join(terms), "sort": "datetime", "page[size]": page_size}


def _instant(moment: datetime) -> str:
    """Klaviyo's filter notation of an instant, to the second (rounded down: the bound stays inclusive)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
