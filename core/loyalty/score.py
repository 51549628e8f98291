"""The loyalty score job: a 0–100 score per cluster root from RFM, survey satisfaction and complaints.

Three parts, each 0–100, weighed by ``[loyalty_score]`` (percent, adding up to 100):

- **rfm**: the last RFM run's quintile scores, ``(R + F + M − 3) ÷ 12 × 100`` (all three 1: 0; all three 5:
  100); a cluster that never bought (scores 0) or is not scored yet gets 0.
- **satisfaction**: the mean answer to ``satisfaction_question`` of the cluster's responses of the last
  ``survey_months``, placed on ``satisfaction_scale`` (the worst answer 0, the best 100); answers that are
  not numbers or lie outside the scale do not count, as a survey rule would not compare them; a cluster
  without an answer gets ``no_survey``.
- **inquiries**: 100, less ``complaint_penalty`` per inquiry of ``complaint_categories`` opened in the last
  ``complaint_days`` and ``unresolved_penalty`` more for each of them still open or pending; 0 at worst.

The score is the weighted sum rounded half up, computed exactly (in integers); ``parts`` keeps each part's
value, weight, contribution (one decimal, half up) and the figures behind it, so the console can say why a member
scores 72. The job runs after the RFM job, whose scores it reads, and before segments, which may test it.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from core.loyalty.member_rules import LoyaltyScore
from core.loyalty.periods import months_before
from core.store import loyalty_scores as repo

__all__ = ["PARTS", "LoyaltyScoreOutcome", "ScoreInputs", "ScorePart", "ScoredMember", "compute_score", "explain"]

PARTS = ("rfm", "satisfaction", "inquiries")
"""The parts of the score, in the order they are shown."""


@dataclass(frozen=True)
class LoyaltyScoreOutcome:
    """What one run scored: cluster roots, and their mean score (0 when there are none)."""

    members: int
    mean: float


@dataclass(frozen=True)
class ScoreInputs:
    """One cluster's figures: its RFM scores (0: never bought or not scored), satisfaction answers, complaints."""

    rfm: tuple[int, int, int] = (0, 0, 0)
    answers: tuple[Decimal, ...] = ()
    complaints: int = 0
    unresolved: int = 0


@dataclass(frozen=True)
class ScorePart:
    """One part of a score as explained: value 0–100, weight in percent, its points in the score, the figures."""

    name: str
    weight: int
    value: float
    points: float
    figures: Mapping[str, Any]


@dataclass(frozen=True)
class ScoredMember:
    """A cluster root's stored score, when it was computed, and its parts in ``PARTS`` order."""

    score: int
    computed_at: datetime
    parts: tuple[ScorePart, ...]


def compute_score(config: LoyaltyScore, inputs: ScoreInputs) -> tuple[int, dict[str, Any]]:
    """The score of one cluster and its ``parts`` document (what ``member_loyalty_scores.parts`` holds)."""
    values = {
        "rfm": _rfm_part(inputs.rfm),
        "satisfaction": _satisfaction_part(config, inputs.answers),
        "inquiries": _inquiry_part(config, inputs.complaints, inputs.unresolved),
    }
    weights = {"rfm": config.rfm_weight, "satisfaction": config.satisfaction_weight, "inquiries": config.inquiry_weight}
    # Exact: the weighted sum over one common denominator, in integers (Fraction arithmetic cost 0.25 ms a member).
    denominator = 100 * math.prod(den for _, den in values.values())
    numerator = sum(weights[name] * num * denominator // (100 * den) for name, (num, den) in values.items())
    answers = len(inputs.answers)
    total = sum(inputs.answers, Decimal(0)).as_integer_ratio() if answers else None
    figures: dict[str, dict[str, Any]] = {
        "rfm": dict(zip(("recency_score", "frequency_score", "monetary_score"), inputs.rfm, strict=True)),
        "satisfaction": {"answers": answers, "mean": None if total is None else _tenths(total[0], total[1] * answers)},
        "inquiries": {"complaints": inputs.complaints, "unresolved": inputs.unresolved},
    }
    parts = {
        name: {"weight": weights[name], "value": _tenths(num, den),
               "points": _tenths(weights[name] * num, 100 * den), **figures[name]}
        for name, (num, den) in values.items()
    }  # fmt: skip
    return (2 * numerator + denominator) // (2 * denominator), parts


def score_members(conn: Connection, config: LoyaltyScore, now: datetime) -> LoyaltyScoreOutcome:
    """Rewrite every cluster root's score as of ``now`` from the last RFM scores, surveys and inquiries."""
    answers = _answers(conn, config, months_before(now, config.survey_months))
    complaints = repo.complaints(conn, now - timedelta(days=config.complaint_days), config.complaint_categories)
    scored: list[int] = []
    # Most clusters share their inputs (125 RFM triples, few with answers or complaints): each distinct set of
    # inputs is scored and serialised once (at 200,000 roots that was four fifths of the job).
    known: dict[ScoreInputs, tuple[int, str]] = {}

    def rows() -> Iterator[dict[str, Any]]:
        for row in repo.root_rfm_scores(conn):
            root = row.id  # as the store gives it: every id of the job is raw (``core.store.loyalty_scores``)
            rfm = (row.recency_score or 0, row.frequency_score or 0, row.monetary_score or 0)
            count, unresolved = complaints.get(root, (0, 0))
            inputs = ScoreInputs(rfm, tuple(answers.get(root, ())), count, unresolved)
            found = known.get(inputs)
            if found is None:
                score, parts = compute_score(config, inputs)
                found = known[inputs] = (score, json.dumps(parts, sort_keys=True))
            scored.append(found[0])
            yield {"member_id": root, "score": found[0], "parts": found[1], "computed_at": now}

    members = repo.replace_scores(conn, rows())
    return LoyaltyScoreOutcome(members, sum(scored) / members if members else 0.0)


def explain(conn: Connection, root: UUID) -> ScoredMember | None:
    """The stored score of a cluster root with its parts, or ``None`` if the job has not scored it yet."""
    row = repo.score_of(conn, root)
    if row is None:
        return None
    document = json.loads(row.parts)
    parts = []
    for name in PARTS:
        part = dict(document.get(name, {}))
        weight, value, points = part.pop("weight", 0), part.pop("value", 0.0), part.pop("points", 0.0)
        parts.append(ScorePart(name, int(weight), float(value), float(points), part))
    return ScoredMember(int(row.score), row.computed_at, tuple(parts))


def satisfaction_answer(config: LoyaltyScore, score: int | None, answers: Any) -> Decimal | None:
    """The satisfaction a response gives, if it answered ``satisfaction_question`` with a number on the scale."""
    if config.satisfaction_question == "score":
        raw: Any = score
    else:
        raw = answers.get(config.satisfaction_question) if isinstance(answers, dict) else None
    if raw is None:
        return None
    try:
        number = Decimal(str(raw).strip())  # full-width digits ("３") read as numbers, as in survey rules
    except InvalidOperation:
        return None
    low, high = config.satisfaction_scale
    return number if number.is_finite() and low <= number <= high else None


def _answers(conn: Connection, config: LoyaltyScore, since: datetime) -> dict[Any, list[Decimal]]:
    found: dict[Any, list[Decimal]] = defaultdict(list)
    for root, score, answers in repo.survey_answers(conn, since):
        answer = satisfaction_answer(config, score, answers)
        if answer is not None:
            found[root].append(answer)
    return found


# Each part is a fraction (numerator, denominator) of integers.


def _rfm_part(rfm: tuple[int, int, int]) -> tuple[int, int]:
    return (0, 1) if min(rfm) < 1 else ((sum(rfm) - 3) * 100, 12)


def _satisfaction_part(config: LoyaltyScore, answers: tuple[Decimal, ...]) -> tuple[int, int]:
    if not answers:
        return config.no_survey, 1
    low, high = config.satisfaction_scale
    total, scale = sum(answers, Decimal(0)).as_integer_ratio()  # Decimal sums of a few answers are exact
    return (total - len(answers) * low * scale) * 100, len(answers) * scale * (high - low)


def _inquiry_part(config: LoyaltyScore, complaints: int, unresolved: int) -> tuple[int, int]:
    return max(0, 100 - complaints * config.complaint_penalty - unresolved * config.unresolved_penalty), 1


def _tenths(numerator: int, denominator: int) -> float:
    """``numerator ÷ denominator`` rounded half up to one decimal."""
    return ((20 * numerator + denominator) // (2 * denominator)) / 10
