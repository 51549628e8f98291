"""The member sections of the rules file, validated: yearly benefits, scores, segments and status pushes.

``[birthday]`` and ``[anniversary]`` are the benefits of the birthday month and of the membership-anniversary
month (points, or a coupon of a ``[[coupons]]`` template); ``[rfm]`` is the window of the frequency and
monetary scores; ``[loyalty_score]`` the weights and windows of the 0–100 loyalty score; a segment is a named
set of conditions over a cluster's rank, RFM figures, loyalty score, channels, last purchase and email consent,
with the outbox destinations its changes are pushed to. ``[expiry_notice]`` says who hears of points about
to expire, ``[member_status]`` which systems are kept told of each member's rank, points and segments.
``LoyaltyRules`` (``core.loyalty.rules``) holds them and checks the codes they name (ranks, coupon templates).
Reference: docs/loyalty.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "Anniversary",
    "Birthday",
    "ExpiryNotice",
    "LoyaltyScore",
    "MemberFacts",
    "MemberStatus",
    "Rfm",
    "Segment",
]

# The same syntax as every code of the rules file (``core.loyalty.rules.Code``).
_Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# A connector instance of hub.toml (the outbox addresses messages by instance name).
Destination = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
_Score = Annotated[int, Field(ge=0, le=5)]
_Days = Annotated[int, Field(ge=0, le=36_500)]
_Yen = Annotated[int, Field(ge=0)]
_Channel = Literal["store", "online"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class YearlyBenefit(_Section):
    """A benefit given once a year: ``points``, or a coupon of the ``[[coupons]]`` template ``coupon``."""

    benefit: Literal["points", "coupon"]
    points: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    coupon: _Code | None = None

    @model_validator(mode="after")
    def _one_benefit(self) -> YearlyBenefit:
        if self.benefit == "points" and (self.points is None or self.coupon is not None):
            raise ValueError("benefit points needs points (and no coupon)")
        if self.benefit == "coupon" and (self.coupon is None or self.points is not None):
            raise ValueError("benefit coupon needs coupon, the code of a [[coupons]] template (and no points)")
        return self


class Birthday(YearlyBenefit):
    """Once a year, in the cluster's birthday month (Asia/Tokyo)."""


class Anniversary(YearlyBenefit):
    """Once a year, in the month (Asia/Tokyo) the cluster joined, from the first anniversary on."""


_Weight = Annotated[int, Field(ge=0, le=100)]
_Part = Annotated[int, Field(ge=0, le=100)]


class LoyaltyScore(_Section):
    """How the 0–100 loyalty score weighs RFM, survey satisfaction and complaints, and the windows they count.

    Each part is 0–100; the score is their weighted mean (weights in percent, adding up to 100), rounded.
    Satisfaction is the mean answer to ``satisfaction_question`` (``"score"``: the response's 0–10 score) over
    ``survey_months``, placed on ``satisfaction_scale``; a cluster without an answer gets ``no_survey``. The
    inquiry part is 100 less ``complaint_penalty`` per inquiry of ``complaint_categories`` opened within
    ``complaint_days``, and ``unresolved_penalty`` more for each of them still open or pending (0 at worst).
    """

    rfm_weight: _Weight = 60
    satisfaction_weight: _Weight = 25
    inquiry_weight: _Weight = 15
    survey_months: Annotated[int, Field(ge=1, le=60)] = 12
    satisfaction_question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = (
        "satisfaction"
    )
    satisfaction_scale: tuple[int, int] = (1, 5)
    no_survey: _Part = 50
    complaint_days: Annotated[int, Field(ge=1, le=3650)] = 180
    complaint_categories: Annotated[tuple[_Code, ...], Field(min_length=1)] = ("complaint",)
    complaint_penalty: _Part = 25
    unresolved_penalty: _Part = 25

    @model_validator(mode="after")
    def _consistent(self) -> LoyaltyScore:
        total = self.rfm_weight + self.satisfaction_weight + self.inquiry_weight
        if total != 100:
            raise ValueError(
                f"rfm_weight + satisfaction_weight + inquiry_weight must add up to 100 (percent), not {total}"
            )
        low, high = self.satisfaction_scale
        if low >= high:
            raise ValueError(f"satisfaction_scale: the worst answer {low} must be below the best {high}")
        return self


class Rfm(_Section):
    """The window (months back from the job's run) that frequency, monetary and channel usage count over."""

    window_months: Annotated[int, Field(ge=1, le=60)] = 12


class ExpiryNotice(_Section):
    """Clusters whose points expire within ``days`` are told once per expiry, through ``destinations`` (a mailer)."""

    days: Annotated[int, Field(ge=1, le=365)] = 30
    destinations: tuple[Destination, ...] = ()


class MemberStatus(_Section):
    """Connector instances kept told of each cluster's member number, rank, points, next expiry and segments."""

    destinations: tuple[Destination, ...] = ()


class MemberFacts(NamedTuple):
    """What segment conditions look at, for one cluster root (a plain tuple: 200,000 are judged a night).

    ``rank_code`` is the rank the cluster holds (the lowest when it has none yet); ``recency_days`` is ``None``
    and every score 0 for a cluster that never bought anything.
    """

    member_id: Any  # the root's id as the store read it (hex text on SQLite, ``UUID`` on PostgreSQL)
    rank_code: str
    recency_days: int | None
    frequency: int
    monetary: int
    recency_score: int
    frequency_score: int
    monetary_score: int
    store_frequency: int
    online_frequency: int
    email_opt_in: bool
    loyalty_score: int | None = None  # None: not scored yet (the cluster is newer than the last scoring)


class Segment(_Section):
    """A named set of members: those whose facts meet every condition given (none given: every member).

    Score lists name the scores accepted (1 worst … 5 best, 0: never bought). ``channels``: bought through
    each of them within the RFM window; ``without_channels``: through none of them. ``spend_*`` is the net
    spend in the RFM window (``monetary``); ``last_purchase_days_*`` the days since the last purchase ever (a
    cluster that never bought matches neither); ``loyalty_score_*`` the loyalty score (a cluster not scored
    yet matches neither). ``email_opt_in``: the newest email consent of the cluster
    (none counts as not opted in). ``destinations``: connector instances that receive the changes.
    """

    code: _Code
    name_ja: _Name
    name_en: _Name
    ranks: tuple[_Code, ...] = ()
    recency_score: tuple[_Score, ...] = ()
    frequency_score: tuple[_Score, ...] = ()
    monetary_score: tuple[_Score, ...] = ()
    spend_min: _Yen | None = None
    spend_max: _Yen | None = None
    channels: tuple[_Channel, ...] = ()
    without_channels: tuple[_Channel, ...] = ()
    last_purchase_days_min: _Days | None = None
    last_purchase_days_max: _Days | None = None
    loyalty_score_min: _Part | None = None
    loyalty_score_max: _Part | None = None
    email_opt_in: bool | None = None
    destinations: tuple[Destination, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Segment:
        if _above(self.spend_min, self.spend_max):
            raise ValueError(f"segment {self.code}: spend_min is above spend_max")
        if _above(self.last_purchase_days_min, self.last_purchase_days_max):
            raise ValueError(f"segment {self.code}: last_purchase_days_min is above last_purchase_days_max")
        if _above(self.loyalty_score_min, self.loyalty_score_max):
            raise ValueError(f"segment {self.code}: loyalty_score_min is above loyalty_score_max")
        if set(self.channels) & set(self.without_channels):
            raise ValueError(f"segment {self.code}: a channel is both in channels and in without_channels")
        return self

    def admits(self, facts: MemberFacts) -> bool:
        """Whether a cluster with these facts belongs to the segment."""
        return all(test(facts) for test in self._tests)

    @cached_property
    def _tests(self) -> tuple[Callable[[MemberFacts], bool], ...]:
        """One test per condition given: 200,000 clusters a night meet only the conditions a segment sets."""
        tests: list[Callable[[MemberFacts], bool]] = []
        if self.ranks:
            tests.append(lambda f: f.rank_code in self.ranks)
        for field, accepted in (("recency_score", self.recency_score), ("frequency_score", self.frequency_score),
                                ("monetary_score", self.monetary_score)):  # fmt: skip
            if accepted:
                tests.append(partial(_scored, field, accepted))
        if self.spend_min is not None or self.spend_max is not None:
            tests.append(lambda f: _within(f.monetary, self.spend_min, self.spend_max))
        tests.extend(partial(_bought_through, channel, True) for channel in self.channels)
        tests.extend(partial(_bought_through, channel, False) for channel in self.without_channels)
        if self.last_purchase_days_min is not None or self.last_purchase_days_max is not None:
            low, high = self.last_purchase_days_min, self.last_purchase_days_max
            tests.append(lambda f: f.recency_days is not None and _within(f.recency_days, low, high))
        if self.loyalty_score_min is not None or self.loyalty_score_max is not None:
            least, most = self.loyalty_score_min, self.loyalty_score_max
            tests.append(lambda f: f.loyalty_score is not None and _within(f.loyalty_score, least, most))
        if self.email_opt_in is not None:
            tests.append(lambda f: f.email_opt_in == self.email_opt_in)
        return tuple(tests)


def _scored(field: str, accepted: tuple[int, ...], facts: MemberFacts) -> bool:
    return getattr(facts, field) in accepted


def _bought_through(channel: str, bought: bool, facts: MemberFacts) -> bool:
    return ((facts.store_frequency if channel == "store" else facts.online_frequency) > 0) == bought


def _above(low: int | None, high: int | None) -> bool:
    return low is not None and high is not None and low > high


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)
