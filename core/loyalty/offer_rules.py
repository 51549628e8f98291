"""The ``[[coupons]]`` templates and ``[surveys]`` rules of ``loyalty.toml``, validated.

A coupon template says what a coupon issued from it is worth, how long it stays valid and how many purchases
may use it. A survey rule says which answers to which survey trigger what: a coupon, points, a notification
to the call center. ``LoyaltyRules`` (``core.loyalty.rules``) holds both and checks that every template a
rule names exists. Reference: docs/loyalty.md.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = ["Condition", "CouponTemplate", "SurveyRule", "Surveys"]

# The same syntax as every code of the rules file (``core.loyalty.rules.Code``): it must fit ``coupons.kind``.
_Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
_Destination = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
_Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
_Comparison = Literal["<", "<=", "==", "!=", ">=", ">"]
_MAX_AMOUNT = 1_000_000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CouponTemplate(_Section):
    """What coupons issued from this template are: worth, validity, uses, and where their email goes."""

    code: _Code
    kind: _Code
    name_ja: _Name
    name_en: _Name
    prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,12}$")] | None = None
    value_type: Literal["percent", "amount"]
    value: Annotated[int, Field(ge=1, le=_MAX_AMOUNT)]
    valid_days: Annotated[int, Field(ge=1, le=3650)]
    max_uses: Annotated[int, Field(ge=1, le=1000)] = 1
    email_destination: _Destination | None = None

    @model_validator(mode="after")
    def _percent(self) -> CouponTemplate:
        if self.value_type == "percent" and self.value > 100:
            raise ValueError(f"value: a percent coupon takes 1 to 100, not {self.value}")
        return self

    @property
    def code_prefix(self) -> str:
        """What issued codes start with: ``prefix``, else the template code in capitals without punctuation."""
        return self.prefix or "".join(c for c in self.code.upper() if c.isalnum())[:12]


class Condition(_Section):
    """What a response must hold: ``completed`` (any), ``answered`` (an answer to the question), a comparison.

    A comparison sets the answer against ``value``; ``question = "score"`` is the response's overall score
    (0–10). Ordering comparisons (``<``, ``<=``, ``>=``, ``>``) read the answer as a number; an answer that is
    not one does not match. ``==`` and ``!=`` compare numbers as numbers (``"2.0" == 2``), other text as text.
    """

    op: Literal["completed", "answered", "<", "<=", "==", "!=", ">=", ">"]
    question: _Question | None = None
    value: Decimal | str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        if self.op == "completed":
            if self.question is not None or self.value is not None:
                raise ValueError("op completed takes no question and no value")
        elif self.question is None:
            raise ValueError(f"op {self.op} needs a question")
        elif self.op == "answered":
            if self.value is not None:
                raise ValueError("op answered takes no value")
        elif self.value is None:
            raise ValueError(f"op {self.op} needs a value")
        elif self.op not in ("==", "!=") and _number(self.value) is None:
            raise ValueError(f"op {self.op} compares numbers: value must be a number")
        return self

    def matches(self, score: int | None, answers: dict[str, str]) -> bool:
        """Whether a response with that score and those answers meets the condition."""
        if self.op == "completed":
            return True
        answer = self._answer(score, answers)
        if answer is None or answer == "":
            return False
        if self.op == "answered":
            return True
        return _compare(answer, self.op, self.value)  # type: ignore[arg-type]

    def _answer(self, score: int | None, answers: dict[str, str]) -> str | None:
        if self.question == "score":
            return None if score is None else str(score)
        value = answers.get(self.question or "")
        return None if value is None else value.strip()


class SurveyRule(_Section):
    """When a response to ``survey_code`` meets ``when``: issue a coupon, award points, notify the call center."""

    code: _Code
    survey_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    when: Condition
    issue_coupon: _Code | None = None
    award_points: Annotated[int, Field(ge=1, le=_MAX_AMOUNT)] | None = None
    notify_call_center: bool = False

    @model_validator(mode="after")
    def _does_something(self) -> SurveyRule:
        if self.issue_coupon is None and self.award_points is None and not self.notify_call_center:
            raise ValueError("give at least one action: issue_coupon, award_points or notify_call_center")
        return self


class Surveys(_Section):
    """The survey rules, where call-center notifications go, and how old a response may be to count.

    ``max_age_days`` keeps a first backfill of years of responses from showering members with coupons: a
    response answered longer ago than that when it is applied triggers nothing.
    """

    call_center_destination: _Destination | None = None
    max_age_days: Annotated[int, Field(ge=1, le=3650)] = 30
    rules: tuple[SurveyRule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Surveys:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.code in seen:
                raise ValueError(f"survey rule {rule.code} is defined twice")
            seen.add(rule.code)
            if rule.notify_call_center and self.call_center_destination is None:
                raise ValueError(f"rule {rule.code} notifies the call center: set call_center_destination")
        return self


def _number(value: Decimal | str | None) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _compare(answer: str, op: _Comparison, value: Decimal | str) -> bool:
    left, right = _number(answer), _number(value)
    if op in ("==", "!="):
        same = left == right if left is not None and right is not None else answer == str(value).strip()
        return same if op == "==" else not same
    if left is None or right is None:
        return False
    return {"<": left < right, "<=": left <= right, ">=": left >= right, ">": left > right}[op]
