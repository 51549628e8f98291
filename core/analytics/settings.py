"""The ``[analytics]`` section of the loyalty rules: what the reports count and how (docs/analytics.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["AnalyticsRules"]

Question = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class AnalyticsRules(BaseModel):
    """Settings of the analytics reports; every key has a default, so the section is optional.

    ``yen_per_point`` values the points liability; ``churn_days`` without a purchase makes a buyer churned;
    ``satisfaction_question`` (1 … ``satisfaction_max``) and ``recommend_question`` (0–10, for NPS) name survey
    answers; ``survey_codes`` limits the survey report to those surveys (empty: every survey);
    ``migration_months`` is how far back the rank migration matrix looks.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    yen_per_point: Annotated[Decimal, Field(gt=0, le=1000)] = Decimal(1)
    churn_days: Annotated[int, Field(ge=1, le=3650)] = 180
    satisfaction_question: Question = "satisfaction"
    satisfaction_max: Annotated[int, Field(ge=2, le=10)] = 5
    recommend_question: Question = "recommend"
    survey_codes: tuple[Question, ...] = ()
    migration_months: Annotated[int, Field(ge=1, le=60)] = 12
