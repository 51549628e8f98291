"""Settings of one Klaviyo account (a ``[connectors.<name>]`` table of ``type = "klaviyo"`` in ``hub.toml``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

from core.records import Code

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Revision = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}(\.[a-z0-9]+)?$")]
PropertyName = Annotated[str, StringConstraints(min_length=1, max_length=255)]
KlaviyoId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SurveyMetric(_Settings):
    """Events of one metric (``"Survey Answered"``) read as survey responses, and where their answers are."""

    metric: PropertyName = Field(description="the metric's name in Klaviyo")
    survey_code: Code = Field(description="survey code of its responses unless `survey_code_property` names one")
    survey_code_property: PropertyName | None = Field(None, description="event property holding the survey code")
    score_property: PropertyName | None = Field(None, description="event property holding the 0–10 score")
    answers_property: PropertyName | None = Field(None, description="event property holding a {question: answer}")
    answer_properties: dict[Code, PropertyName] = Field(
        default_factory=dict, description="answer key → event property, for answers at the top level"
    )
    comment_property: PropertyName | None = Field("comment", description="event property holding free text")


class KlaviyoConfig(_Settings):
    """Where the API is, the name of the variable holding the private key (never the key), and the mappings."""

    base_url: AnyHttpUrl = Field(AnyHttpUrl("https://a.klaviyo.com"), description="API root")
    api_key_env: EnvVarName = Field("KLAVIYO_API_KEY", description="variable holding the private API key")
    revision: Revision = Field("2025-01-15", description="the `revision` header: the API schema pinned")
    list_id: KlaviyoId | None = Field(None, description="the newsletter list a consent subscribe joins")
    kana_property: PropertyName | None = Field("kana", description="custom profile property holding the kana")
    birthday_property: PropertyName | None = Field("birthday", description="custom property: ISO birthday")
    surveys: tuple[SurveyMetric, ...] = Field((), description="metrics whose events are survey responses")
    segment_lists: dict[Code, KlaviyoId] = Field(
        default_factory=dict, description="segment code → list id, for `member.segments`"
    )
    property_prefix: Annotated[str, StringConstraints(max_length=32)] = Field(
        "memberhub_", description="prefix of the profile properties `member.loyalty` sets"
    )
    coupon_metric: PropertyName = Field("MemberHub Coupon Issued", description="metric of `coupon.issued` events")
    points_expiring_metric: PropertyName = Field(
        "MemberHub Points Expiring", description="metric of `points.expiring` events"
    )
    profiles_page_size: int = Field(100, ge=1, le=100, description="profiles per page (Klaviyo allows 100)")
    events_page_size: int = Field(200, ge=1, le=200, description="events per page (Klaviyo allows 200)")
    timeout_s: float = Field(15.0, gt=0, le=120, description="deadline of one HTTP request, in seconds")
    max_attempts: int = Field(6, ge=1, le=20, description="tries per request, with backoff, before giving up")
