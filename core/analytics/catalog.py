"""Every report by name: how it is computed and which settings it depends on (its cache parameters)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from core.analytics.growth import growth_churn
from core.analytics.liability import points_liability
from core.analytics.migration import rank_migration
from core.analytics.sales import repeat_sales
from core.analytics.settings import AnalyticsRules
from core.analytics.sql import ReportContext
from core.analytics.surveys import survey_scores
from core.analytics.tables import Cell, ReportTable
from core.analytics.uplift import campaign_uplift
from core.loyalty.rules import LoyaltyRules

__all__ = ["REPORTS", "ReportKind", "report_kind"]

_PARAMS_MAX = 256  # report_cache.params


@dataclass(frozen=True)
class ReportKind:
    """One report: ``compute`` gives its tables; ``params`` the settings its figures depend on, as text."""

    name: str
    compute: Callable[[ReportContext, LoyaltyRules], tuple[ReportTable, ...]]
    params: Callable[[LoyaltyRules, AnalyticsRules], str]

    def cache_params(self, rules: LoyaltyRules, settings: AnalyticsRules) -> str:
        """``params`` as the cache keeps it: itself, or its SHA-256 when longer than the column."""
        text = self.params(rules, settings)
        return text if len(text) <= _PARAMS_MAX else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _liability(context: ReportContext, rules: LoyaltyRules) -> tuple[ReportTable, ...]:
    """The liability table with each row's yen value (points × ``yen_per_point``, rounded down)."""
    (table,) = points_liability(context)
    value = context.settings.yen_per_point
    rows = tuple((*row, int(Decimal(_int(row[-1])) * value)) for row in table.rows)
    return (ReportTable(table.name, (*table.columns, "yen"), rows),)


def _int(cell: Cell) -> int:
    return int(cell) if isinstance(cell, int | float) else 0


def _holdouts(rules: LoyaltyRules, settings: AnalyticsRules) -> str:
    held = [f"{c.code}:{c.holdout_percent}:{c.starts_at.isoformat()}" for c in rules.campaigns if c.holdout_percent > 0]
    return "holdouts=" + ",".join(held)


def _surveys(rules: LoyaltyRules, s: AnalyticsRules) -> str:
    rating = f"rating={s.satisfaction_question}/{s.satisfaction_max}"
    return f"{rating};nps={s.recommend_question};surveys={','.join(s.survey_codes)}"


REPORTS: tuple[ReportKind, ...] = (
    ReportKind("repeat_sales", lambda context, rules: repeat_sales(context), lambda rules, s: "-"),
    ReportKind(
        "rank_migration", lambda context, rules: rank_migration(context), lambda r, s: f"months={s.migration_months}"
    ),
    ReportKind("survey_scores", lambda context, rules: survey_scores(context), _surveys),
    ReportKind("campaign_uplift", lambda context, rules: campaign_uplift(context, rules.campaigns), _holdouts),
    ReportKind("points_liability", _liability, lambda r, s: f"yen_per_point={s.yen_per_point}"),
    ReportKind("growth_churn", lambda context, rules: growth_churn(context), lambda r, s: f"churn_days={s.churn_days}"),
)


def report_kind(name: str) -> ReportKind:
    """The report called ``name``; ``KeyError`` for an unknown one."""
    for kind in REPORTS:
        if kind.name == name:
            return kind
    raise KeyError(name)
