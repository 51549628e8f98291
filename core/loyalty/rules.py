"""The loyalty rules (``loyalty.toml``): earning, pending window, expiry, ranks, campaigns, coupons and surveys.

Every error names the file, the key and the reason. Decimal numbers are read as ``Decimal`` straight from the
TOML text, so ``1.5`` is exactly one and a half and point arithmetic never meets a binary float. Unknown
sections and keys are refused, never ignored. The birthday, RFM and segment sections are in
``core.loyalty.member_rules``. Reference: docs/loyalty.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.analytics.settings import AnalyticsRules
from core.errors import ConfigError
from core.loyalty.holdout import in_holdout
from core.loyalty.member_rules import (
    Anniversary,
    Birthday,
    Destination,
    ExpiryNotice,
    LoyaltyScore,
    MemberStatus,
    Rfm,
    Segment,
)
from core.loyalty.offer_rules import CouponTemplate, Surveys
from core.loyalty.periods import JST, EvaluationPeriod, end_of_day_after, end_of_month_after, end_of_year_after
from core.toml_files import read_toml

__all__ = ["SHIPPED_RULES", "Campaign", "LoyaltyRules", "Rank", "load_rules", "rules_file"]

SHIPPED_RULES = Path(__file__).resolve().parents[2] / "config" / "loyalty.toml"
"""The example rules shipped with MemberHub, used when the hub names no rules file of its own."""

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Multiplier = Annotated[Decimal, Field(gt=0, le=100)]
Channel = Literal["store", "online"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Earning(_Section):
    """Points per yen, rounded down; ``basis`` says which yen; points wait ``pending_days`` before use."""

    points_per_yen: Annotated[Decimal, Field(gt=0, le=1)]
    rounding: Literal["floor"] = "floor"
    basis: Literal["total", "excluding_tax"] = "total"
    pending_days: Annotated[int, Field(ge=0, le=365)] = 0


class DaysAfterEarning(_Section):
    """Points lapse at the end of the JST day ``days`` days after the day they were earned."""

    policy: Literal["days_after_earning"]
    days: Annotated[int, Field(ge=1, le=3650)]

    def expires_at(self, earned_at: datetime) -> datetime | None:
        """When points earned at ``earned_at`` lapse."""
        return end_of_day_after(earned_at, self.days)


class EndOfMonth(_Section):
    """Points lapse at the end of the JST month ``months`` months after the month they were earned in."""

    policy: Literal["end_of_month"]
    months: Annotated[int, Field(ge=0, le=120)] = 12

    def expires_at(self, earned_at: datetime) -> datetime | None:
        """When points earned at ``earned_at`` lapse."""
        return end_of_month_after(earned_at, self.months)


class EndOfYear(_Section):
    """Points lapse at the end of the JST year ``years`` years after the year they were earned in."""

    policy: Literal["end_of_year"]
    years: Annotated[int, Field(ge=0, le=10)] = 1

    def expires_at(self, earned_at: datetime) -> datetime | None:
        """When points earned at ``earned_at`` lapse."""
        return end_of_year_after(earned_at, self.years)


class Never(_Section):
    """Points never lapse."""

    policy: Literal["never"]

    def expires_at(self, earned_at: datetime) -> datetime | None:
        """``None``: never."""
        return None


ExpiryPolicy = Annotated[DaysAfterEarning | EndOfMonth | EndOfYear | Never, Field(discriminator="policy")]


class Rank(_Section):
    """One rank: reached when the measure over the window is at least ``threshold``.

    ``upgrade_coupon``: the code of a ``[[coupons]]`` template issued to a cluster moving up into this rank
    (``core.loyalty.rank_coupons``).
    """

    code: Code
    name_ja: Name
    name_en: Name
    threshold: Annotated[int, Field(ge=0)]
    multiplier: Multiplier
    benefits: tuple[Name, ...] = ()
    upgrade_coupon: Code | None = None
    flags: tuple[Code, ...] = ()
    """Benefit flags beyond points (``priority_reservation``), pushed with the member's status to channels."""


class Ranks(_Section):
    """The rank ladder, lowest first, and how members move on it.

    ``destinations``: connector instances told of every rank change (``member.rank`` outbox messages).
    """

    measure: Literal["spend", "points"] = "spend"
    window_months: Annotated[int, Field(ge=1, le=60)] = 12
    evaluation_period: EvaluationPeriod = "year"
    levels: Annotated[tuple[Rank, ...], Field(min_length=1)]
    destinations: tuple[Destination, ...] = ()

    @field_validator("levels")
    @classmethod
    def _ladder(cls, levels: tuple[Rank, ...]) -> tuple[Rank, ...]:
        if levels[0].threshold != 0:
            raise ValueError("the first (lowest) rank must have threshold 0, so every member has a rank")
        for lower, higher in itertools.pairwise(levels):
            if higher.threshold <= lower.threshold:
                raise ValueError(f"thresholds must increase: {higher.code} is not above {lower.code}")
        _unique([level.code for level in levels], "rank code")
        return levels

    @field_validator("destinations")
    @classmethod
    def _distinct(cls, destinations: tuple[str, ...]) -> tuple[str, ...]:
        _unique(list(destinations), "rank destination")
        return destinations


class Campaign(_Section):
    """A points multiplier for purchases in ``[starts_at, ends_at)`` matching every targeting list given.

    An empty list targets everyone: ``channels`` (store, online), ``ranks`` (rank codes), ``segments``
    (segment codes of ``member_segments``). Local dates and times are read as Asia/Tokyo. ``holdout_percent``
    of the cluster roots, drawn by ``core.loyalty.holdout``, never get the campaign's bonus.
    """

    code: Code
    name_ja: Name
    name_en: Name
    starts_at: datetime
    ends_at: datetime
    multiplier: Multiplier
    channels: tuple[Channel, ...] = ()
    ranks: tuple[Code, ...] = ()
    segments: tuple[Annotated[str, StringConstraints(min_length=1, max_length=64)], ...] = ()
    holdout_percent: Annotated[Decimal, Field(ge=0, le=50)] = Decimal(0)

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _midnight(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day)
        return value

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _in_japan(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=JST)

    @model_validator(mode="after")
    def _window(self) -> Campaign:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def applies(self, purchased_at: datetime, channel: str, rank_code: str, segments: frozenset[str] | None) -> bool:
        """Whether a purchase made then, there, by a member of that rank and those segments earns the bonus.

        ``segments=None`` leaves segment targeting unjudged (a recompute cannot know past segment membership).
        """
        return (
            self.starts_at <= purchased_at < self.ends_at
            and (not self.channels or channel in self.channels)
            and (not self.ranks or rank_code in self.ranks)
            and (not self.segments or segments is None or not segments.isdisjoint(self.segments))
        )

    def holds_out(self, root: UUID) -> bool:
        """Whether the cluster ``root`` is in this campaign's holdout group (``core.loyalty.holdout``)."""
        return in_holdout(self.code, root, self.holdout_percent)


class LoyaltyRules(_Section):
    """The whole rules file; ``version`` is recorded on every ledger entry and rank change."""

    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    earning: Earning
    expiry: ExpiryPolicy
    ranks: Ranks
    campaigns: tuple[Campaign, ...] = ()
    coupons: Annotated[tuple[CouponTemplate, ...], Field(validate_default=True)] = ()  # ranks may name templates
    surveys: Surveys = Surveys()
    birthday: Birthday | None = None
    anniversary: Anniversary | None = None
    rfm: Rfm = Rfm()
    loyalty_score: LoyaltyScore = LoyaltyScore()
    segments: tuple[Segment, ...] = ()
    expiry_notice: ExpiryNotice = ExpiryNotice()
    member_status: MemberStatus = MemberStatus()
    analytics: AnalyticsRules = AnalyticsRules()

    @field_validator("campaigns")
    @classmethod
    def _known_ranks(cls, campaigns: tuple[Campaign, ...], info: ValidationInfo) -> tuple[Campaign, ...]:
        _unique([campaign.code for campaign in campaigns], "campaign code")
        ranks: Ranks | None = info.data.get("ranks")  # absent when the ranks were refused already
        codes = {level.code for level in ranks.levels} if ranks else set()
        for campaign in campaigns:
            unknown = sorted(set(campaign.ranks) - codes)
            if ranks and unknown:
                raise ValueError(f"campaign {campaign.code} targets unknown ranks: {', '.join(unknown)}")
        return campaigns

    @field_validator("coupons")
    @classmethod
    def _unique_templates(cls, coupons: tuple[CouponTemplate, ...], info: ValidationInfo) -> tuple[CouponTemplate, ...]:
        _unique([template.code for template in coupons], "coupon template")
        ranks: Ranks | None = info.data.get("ranks")
        templates = {template.code for template in coupons}
        for level in ranks.levels if ranks else ():
            if level.upgrade_coupon is not None and level.upgrade_coupon not in templates:
                raise ValueError(f"rank {level.code} issues unknown coupon template {level.upgrade_coupon}")
        return coupons

    @field_validator("surveys")
    @classmethod
    def _known_templates(cls, surveys: Surveys, info: ValidationInfo) -> Surveys:
        """Every template a survey rule issues exists (unless the coupons were refused already)."""
        coupons: tuple[CouponTemplate, ...] | None = info.data.get("coupons")
        templates = {template.code for template in coupons or ()}
        for rule in surveys.rules:
            if coupons is not None and rule.issue_coupon is not None and rule.issue_coupon not in templates:
                raise ValueError(f"rule {rule.code} issues unknown coupon template {rule.issue_coupon}")
        return surveys

    @field_validator("birthday")
    @classmethod
    def _birthday_coupon(cls, birthday: Birthday | None, info: ValidationInfo) -> Birthday | None:
        coupons: tuple[CouponTemplate, ...] | None = info.data.get("coupons")
        if birthday and birthday.coupon and coupons is not None and not any(t.code == birthday.coupon for t in coupons):
            raise ValueError(f"coupon: no [[coupons]] template has the code {birthday.coupon}")
        return birthday

    @field_validator("anniversary")
    @classmethod
    def _anniversary_coupon(cls, anniversary: Anniversary | None, info: ValidationInfo) -> Anniversary | None:
        coupons: tuple[CouponTemplate, ...] | None = info.data.get("coupons")
        code = anniversary.coupon if anniversary else None
        if code and coupons is not None and not any(t.code == code for t in coupons):
            raise ValueError(f"coupon: no [[coupons]] template has the code {code}")
        return anniversary

    @field_validator("segments")
    @classmethod
    def _segment_ranks(cls, segments: tuple[Segment, ...], info: ValidationInfo) -> tuple[Segment, ...]:
        _unique([segment.code for segment in segments], "segment code")
        ranks: Ranks | None = info.data.get("ranks")
        codes = {level.code for level in ranks.levels} if ranks else set()
        for segment in segments:
            unknown = sorted(set(segment.ranks) - codes)
            if ranks and unknown:
                raise ValueError(f"segment {segment.code} names unknown ranks: {', '.join(unknown)}")
        campaigns: tuple[Campaign, ...] = info.data.get("campaigns") or ()
        defined = {segment.code for segment in segments}
        for campaign in campaigns:
            unknown = sorted(set(campaign.segments) - defined)
            if segments and unknown:
                raise ValueError(f"campaign {campaign.code} targets undefined segments: {', '.join(unknown)}")
        return segments

    def coupon_template(self, code: str) -> CouponTemplate | None:
        """The coupon template with that code, or ``None``."""
        return next((template for template in self.coupons if template.code == code), None)

    @cached_property
    def _positions(self) -> dict[str, int]:
        """The ranks' places by code: earning looks a rank up for every purchase."""
        return {level.code: i for i, level in enumerate(self.ranks.levels)}

    @property
    def lowest(self) -> Rank:
        """The rank of every member who qualifies for nothing higher."""
        return self.ranks.levels[0]

    def rank(self, code: str | None) -> Rank:
        """The rank with that code; an unknown or missing code counts as the lowest rank."""
        return self.ranks.levels[self.position(code)]

    def position(self, code: str | None) -> int:
        """Where a rank stands on the ladder (0 lowest); unknown codes stand at 0."""
        return self._positions.get(code, 0) if code is not None else 0

    def above(self, rank: Rank) -> Rank | None:
        """The next rank up the ladder, or ``None`` at the top."""
        position = self.position(rank.code) + 1
        return self.ranks.levels[position] if position < len(self.ranks.levels) else None

    def qualified(self, measure: int) -> Rank:
        """The highest rank whose threshold ``measure`` reaches."""
        return [level for level in self.ranks.levels if level.threshold <= measure][-1]

    def campaigns_for(
        self,
        purchased_at: datetime,
        channel: str,
        rank_code: str,
        segments: frozenset[str] | None,
        root: UUID | None = None,
    ) -> list[Campaign]:
        """The campaigns whose bonus a purchase earns, in file order; ``root`` leaves out those holding it out.

        ``root=None`` leaves holdout groups unjudged (a recompute cannot know a merged member's root then).
        """
        return [
            c
            for c in self.campaigns
            if c.applies(purchased_at, channel, rank_code, segments) and (root is None or not c.holds_out(root))
        ]

    def campaign(self, code: str) -> Campaign | None:
        """The campaign with that code, or ``None``."""
        return next((campaign for campaign in self.campaigns if campaign.code == code), None)

    @property
    def targets_segments(self) -> bool:
        """Whether any campaign targets segments (earning then needs the members' segments)."""
        return any(campaign.segments for campaign in self.campaigns)


def rules_file(configured: Path | None, hub_home: Path) -> Path:
    """The rules file to load: the configured one, else ``HUB_HOME/loyalty.toml`` if present, else the example.

    The hub passes ``HUB_LOYALTY_RULES`` as ``configured``; ``core`` reads no environment of its own.
    """
    if configured is not None:
        return configured
    own = hub_home / "loyalty.toml"
    return own if own.exists() else SHIPPED_RULES


def load_rules(path: Path) -> LoyaltyRules:
    """Read and validate a rules file; :class:`ConfigError` names the file, the key and the reason."""
    data = read_toml(path, parse_float=Decimal)
    try:
        return LoyaltyRules.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {_key(first['loc']) or '(top level)'}: {message}") from None


def _key(location: Sequence[int | str]) -> str:
    """A pydantic error location as a TOML key path, e.g. ``ranks.levels[1].threshold``."""
    key = ""
    for part in location:
        if isinstance(part, int):
            key += f"[{part}]"
        elif not (key == "expiry" and part in ("days_after_earning", "end_of_month", "end_of_year", "never")):
            key += f".{part}" if key else part
    return key


def _unique(codes: list[str], what: str) -> None:
    seen = set()
    for code in codes:
        if code in seen:
            raise ValueError(f"{what} {code} is defined twice")
        seen.add(code)
