"""Survey satisfaction and NPS of one month, by rank, channel and store.

A response answered in the month by a member counts under its cluster's rank at the month's end and under
the channel and store of the member's last purchase at or before the answer (``none`` without one; an
online purchase, which has no store, counts under the store ``online``): a post-purchase survey is about that
visit. Satisfaction is the ``satisfaction_question`` answer (1 … max);
NPS comes from the 0–10 ``recommend_question`` answer: promoters answer 9–10, detractors 0–6, NPS is
100 × (promoters − detractors) ÷ answers. Answers that are not such whole numbers are left out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, String, case, cast, func, select

from core.analytics.sql import ReportContext, at, cluster_tree, number, rank_at
from core.analytics.tables import Cell, ReportTable
from core.store.loyalty import PURCHASES
from core.store.models import SurveyResponse, table_of

__all__ = ["COLUMNS", "survey_scores"]

RESPONSES = table_of(SurveyResponse)
COLUMNS = ("rank", "channel", "store", "responses", "rated", "rating_sum", "recommended", "promoters", "detractors")
NONE = "none"


def survey_scores(context: ReportContext) -> tuple[ReportTable, ...]:
    """One table, ``by_rank_channel_store``: sums and counts that add up across any of the three."""
    answered = _answers(context).subquery("answered")
    a = answered.c
    query = select(
        a.rank,
        a.channel,
        a.store,
        func.count(),
        func.count(a.rating),
        func.sum(a.rating),
        func.count(a.recommend),
        func.sum(case((a.recommend >= 9, 1), else_=0)),
        func.sum(case((a.recommend <= 6, 1), else_=0)),
    ).group_by(a.rank, a.channel, a.store)
    rows: list[tuple[Cell, ...]] = sorted(
        (str(rank), str(channel), str(store), *(number(value) for value in figures))
        for rank, channel, store, *figures in context.conn.execute(query).all()
    )
    return (ReportTable("by_rank_channel_store", COLUMNS, tuple(rows)),)


def _answers(context: ReportContext) -> Any:
    """One row per response of the month: rank, channel, store, rating and recommendation (NULL if not given)."""
    s, p = RESPONSES.c, PURCHASES.c
    settings = context.settings
    last = (
        select(p.id)
        .where(p.member_id == s.member_id, p.purchased_at <= s.answered_at)
        .order_by(p.purchased_at.desc(), p.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    responses = select(
        s.member_id,
        last.label("purchase_id"),
        _whole(s.answers, settings.satisfaction_question, 1, settings.satisfaction_max).label("rating"),
        _whole(s.answers, settings.recommend_question, 0, 10).label("recommend"),
    ).where(
        s.member_id.is_not(None),
        s.answered_at >= at(context.month.start),
        s.answered_at < at(context.month.end),
    )
    if settings.survey_codes:
        responses = responses.where(s.survey_code.in_(settings.survey_codes))
    month = responses.subquery("month_responses")
    tree = cluster_tree()
    r = month.c
    return select(
        rank_at(tree.c.root, context.month.end, context.lowest_rank).label("rank"),
        func.coalesce(p.channel, NONE).label("channel"),
        func.coalesce(p.store_code, p.channel, NONE).label("store"),
        r.rating,
        r.recommend,
    ).select_from(month.join(tree, tree.c.id == r.member_id).outerjoin(PURCHASES, p.id == r.purchase_id))


def _whole(answers: Any, question: str, lowest: int, highest: int) -> ColumnElement[Any]:
    """The answer to ``question`` as an integer if it is one of ``lowest`` … ``highest``, else NULL.

    Compared as text first (answers are strings, "7"; SQLite's json_extract returns a JSON number as one),
    so a free-text answer never reaches the cast, which PostgreSQL would refuse.
    """
    text = cast(answers[question].as_string(), String)
    return case((text.in_([str(n) for n in range(lowest, highest + 1)]), cast(text, Integer)), else_=None)
