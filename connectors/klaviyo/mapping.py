"""Klaviyo JSON:API resources → canonical records. A resource that does not fit becomes a ``Rejected``.

Each resource is read by a wire model (Klaviyo's field names and types), then turned into the canonical
record, which validates again. Reasons name fields and rules, never values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictStr, ValidationError

from connectors.klaviyo.config import SurveyMetric
from core.members.numbers import looks_like_member_number
from core.records import Code, ConsentChange, Profile, SurveyResponse
from core.sync.mapping import RecordMapper

OPT_OUT_SUPPRESSIONS = frozenset({"USER_SUPPRESSED", "UNSUBSCRIBE", "SPAM_COMPLAINT"})
"""Suppressions that are the customer's choice: they withdraw consent."""
BOUNCE_SUPPRESSIONS = frozenset({"HARD_BOUNCE", "INVALID_EMAIL"})
"""Suppressions that say mail does not arrive: the address is unverified, consent is untouched."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireSuppression(_Wire):
    """One entry of ``subscriptions.email.marketing.suppression``."""

    reason: str
    timestamp: AwareDatetime


class WireMarketing(_Wire):
    """``subscriptions.email.marketing`` (read with ``additional-fields[profile]=subscriptions``)."""

    consent: Literal["SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED"] | None = None
    consent_timestamp: AwareDatetime | None = None
    last_updated: AwareDatetime | None = None
    suppression: list[WireSuppression] = []


class WireEmailSubscriptions(_Wire):
    """``subscriptions.email``."""

    marketing: WireMarketing | None = None


class WireSubscriptions(_Wire):
    """``subscriptions``; SMS consent is not read."""

    email: WireEmailSubscriptions | None = None


class WireLocation(_Wire):
    """``location``: Klaviyo's region is the prefecture for a Japanese address."""

    address1: StrictStr | None = None
    address2: StrictStr | None = None
    city: StrictStr | None = None
    region: StrictStr | None = None
    zip: StrictStr | None = None


class WireProfileAttributes(_Wire):
    """A profile's ``attributes``."""

    email: StrictStr | None = None
    phone_number: StrictStr | None = None
    first_name: StrictStr | None = None
    last_name: StrictStr | None = None
    location: WireLocation | None = None
    properties: dict[str, Any] = {}
    updated: AwareDatetime
    subscriptions: WireSubscriptions | None = None


class WireProfile(_Wire):
    """A ``profile`` resource of ``GET /api/profiles/``."""

    type: Literal["profile"]
    id: StrictStr
    attributes: WireProfileAttributes

    @property
    def marketing(self) -> WireMarketing:
        """Email marketing subscription, empty when Klaviyo sent none."""
        subscriptions = self.attributes.subscriptions
        email = subscriptions.email if subscriptions else None
        return (email.marketing if email else None) or WireMarketing()


class WireRef(_Wire):
    """A resource identifier (``{"type", "id"}``)."""

    id: StrictStr


class WireRelationship(_Wire):
    """A to-one relationship."""

    data: WireRef


class WireEventRelationships(_Wire):
    """An event's relationships: the profile it happened to (the metric is known from the query)."""

    profile: WireRelationship


class WireEventAttributes(_Wire):
    """An event's ``attributes``."""

    datetime: AwareDatetime
    event_properties: dict[str, Any] = {}


class WireEvent(_Wire):
    """An ``event`` resource of ``GET /api/events/``."""

    type: Literal["event"]
    id: StrictStr
    attributes: WireEventAttributes
    relationships: WireEventRelationships


Answer = StrictStr | int | float | list[StrictStr | int | float]


class _SurveyFields(_Wire):
    """The survey values picked out of an event's properties, checked before they become a record."""

    survey_code: Code | None = None
    score: int | None = None
    comment: StrictStr | None = None
    answers: dict[str, Answer] = {}


def profile_mapper(
    kana_property: str | None, birthday_property: str | None = None, number_property: str | None = None
) -> RecordMapper:
    """Maps a profile to a ``Profile``, kana, birthday and member number read from the custom properties named."""

    def mapper(source: str, raw: Any) -> Profile:
        return profile_to_profile(source, raw, kana_property, birthday_property, number_property)

    return mapper


def profile_to_profile(
    source: str, raw: Any, kana_property: str | None, birthday_property: str | None = None,
    number_property: str | None = None,
) -> Profile:  # fmt: skip
    """A profile as a ``Profile``: the name family name first, as in Japan; a bounced address unverified.

    A birthday property that is not an ISO date is ignored: a custom property never refuses the profile.
    """
    profile = WireProfile.model_validate(raw)
    attributes = profile.attributes
    location = attributes.location or WireLocation()
    street = _joined((location.region, location.city, location.address1), "") if location.address1 else None
    kana = attributes.properties.get(kana_property) if kana_property else None
    bounced = any(entry.reason in BOUNCE_SUPPRESSIONS for entry in profile.marketing.suppression)
    return Profile(
        source=source,
        external_id=profile.id,
        source_updated_at=attributes.updated,
        name=_joined((attributes.last_name, attributes.first_name), " "),
        kana=kana if isinstance(kana, str) and kana.strip() else None,
        email=attributes.email,
        email_verified=False if bounced else None,
        phone=attributes.phone_number,
        postal_code=location.zip,
        address=_joined((street, location.address2), " "),
        birthday=_iso_date(attributes.properties.get(birthday_property) if birthday_property else None),
        member_number=_member_number(attributes.properties.get(number_property) if number_property else None),
    )


def _member_number(value: Any) -> str | None:
    """The member number the hub put on the profile (``member.loyalty``), if the property holds one."""
    return value if isinstance(value, str) and looks_like_member_number(value) else None


def email_consent(profile: WireProfile) -> tuple[bool, datetime] | None:
    """The profile's latest email consent decision (subscribed, when), or ``None`` if it never made one.

    An opt-out suppression later than the consent overrides it; on the same second the opt-out wins.
    """
    marketing = profile.marketing
    decisions: list[tuple[datetime, bool]] = []
    decided_at = marketing.consent_timestamp or marketing.last_updated
    if marketing.consent in ("SUBSCRIBED", "UNSUBSCRIBED") and decided_at is not None:
        decisions.append((decided_at, marketing.consent == "SUBSCRIBED"))
    decisions += [(entry.timestamp, False) for entry in marketing.suppression if entry.reason in OPT_OUT_SUPPRESSIONS]
    if not decisions:
        return None
    changed_at, subscribed = max(decisions, key=lambda decision: (decision[0], not decision[1]))
    return subscribed, changed_at


def states_consent(raw: Any) -> bool:
    """Whether a raw profile yields a consent record; one that does not even validate does (as a reject)."""
    try:
        return email_consent(WireProfile.model_validate(raw)) is not None
    except ValueError:
        return True


def consent_external_id(profile_id: str, changed_at: datetime) -> str:
    """One id per decision: a profile's later decision is a new consent event, the same one an update."""
    return f"{profile_id}:email:{changed_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def profile_to_consent(source: str, raw: Any) -> ConsentChange:
    """A profile's latest email consent decision as a ``ConsentChange`` (see ``states_consent``)."""
    profile = WireProfile.model_validate(raw)
    decision = email_consent(profile)
    if decision is None:  # callers filter with states_consent first; a replayed one is rejected
        raise ValidationError.from_exception_data(
            "ConsentChange", [{"type": "missing", "loc": ("attributes", "subscriptions"), "input": None}]
        )
    subscribed, changed_at = decision
    return ConsentChange(
        source=source,
        external_id=consent_external_id(profile.id, changed_at),
        source_updated_at=profile.attributes.updated,
        customer_external_id=profile.id,
        channel="email",
        subscribed=subscribed,
        changed_at=changed_at,
    )


def survey_mapper(survey: SurveyMetric) -> RecordMapper:
    """Maps an event of ``survey.metric`` to a ``SurveyResponse``, reading the properties it names."""

    def mapper(source: str, raw: Any) -> SurveyResponse:
        return event_to_survey_response(source, raw, survey)

    return mapper


def event_to_survey_response(source: str, raw: Any, survey: SurveyMetric) -> SurveyResponse:
    """A survey event as a ``SurveyResponse`` of the profile it happened to."""
    event = WireEvent.model_validate(raw)
    fields = _SurveyFields.model_validate(_survey_values(event.attributes.event_properties, survey))
    return SurveyResponse(
        source=source,
        external_id=event.id,
        source_updated_at=event.attributes.datetime,
        customer_external_id=event.relationships.profile.data.id,
        survey_code=fields.survey_code or survey.survey_code,
        score=fields.score,
        answers={question: _answer_text(answer) for question, answer in fields.answers.items()},
        free_text=fields.comment if fields.comment and fields.comment.strip() else None,
        answered_at=event.attributes.datetime,
    )


def _survey_values(properties: Mapping[str, Any], survey: SurveyMetric) -> dict[str, Any]:
    """The properties the survey settings name, under the names ``_SurveyFields`` checks."""
    nested = properties.get(survey.answers_property) if survey.answers_property else None
    answers = dict(nested) if isinstance(nested, Mapping) else {}
    answers |= {key: properties[name] for key, name in survey.answer_properties.items() if name in properties}
    picked = {
        "survey_code": properties.get(survey.survey_code_property) if survey.survey_code_property else None,
        "score": properties.get(survey.score_property) if survey.score_property else None,
        "comment": properties.get(survey.comment_property) if survey.comment_property else None,
    }
    return {"answers": {k: v for k, v in answers.items() if v is not None}, **picked}


def _answer_text(answer: Answer) -> str:
    if isinstance(answer, list):
        return "、".join(str(part) for part in answer)
    return answer if isinstance(answer, str) else str(answer)


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _joined(parts: Iterable[str | None], separator: str) -> str | None:
    present = [part for part in parts if part]
    return separator.join(present) if present else None
