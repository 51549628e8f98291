"""Klaviyo profiles (as profiles and as consent changes) and survey events through their mappers."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.klaviyo.config import SurveyMetric
from connectors.klaviyo.mapping import profile_mapper, profile_to_consent, survey_mapper
from fuzz.records import record_parser, record_seeds
from fuzz.seeds import klaviyo_rows
from fuzz.target import FuzzTarget

_SURVEY = SurveyMetric(
    metric="Survey Answered", survey_code="post-purchase", survey_code_property="survey", score_property="満足度",
    answer_properties={"staff": "スタッフの対応"}, comment_property="comment",
)  # fmt: skip
parse = record_parser(
    "klaviyo-fuzz",
    {"profiles": profile_mapper("kana", "birthday", "member_number"), "consent": profile_to_consent,
     "surveys": survey_mapper(_SURVEY)},
)  # fmt: skip


def seeds() -> Iterator[bytes]:
    """The sandbox account's profiles (read both ways) and survey events."""
    profiles, events = klaviyo_rows()
    yield from record_seeds([(kind, profile) for profile in profiles for kind in ("profiles", "consent")])
    yield from record_seeds([("surveys", event) for event in events])


TARGET = FuzzTarget("klaviyo_records", parse, (), seeds, "records")
