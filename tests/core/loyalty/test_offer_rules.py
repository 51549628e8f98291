"""Coupon templates and survey rules in the rules file: the example loads, mistakes are refused by key and why."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.loyalty import SHIPPED_RULES, load_rules
from core.loyalty.offer_rules import Condition
from tests.core.loyalty.test_rules import VALID, refused, write

APOLOGY = """
[[coupons]]
code = "apology-500"
kind = "apology"
name_ja = "お詫びクーポン（500円引き）"
name_en = "Apology coupon"
value_type = "amount"
value = 500
valid_days = 30
"""
LOW_SATISFACTION = """
[surveys]
call_center_destination = "helpdesk"

[[surveys.rules]]
code = "low"
survey_code = "post-purchase"
when = { question = "satisfaction", op = "<=", value = 2 }
issue_coupon = "apology-500"
notify_call_center = true
"""


def test_the_shipped_example_has_coupon_templates_and_survey_rules():
    rules = load_rules(SHIPPED_RULES)

    assert [t.code for t in rules.coupons] == ["apology-500", "silver-welcome", "thanks-10"]
    assert rules.coupon_template("apology-500").code_prefix == "OWABI"  # type: ignore[union-attr]
    assert {rule.code for rule in rules.surveys.rules} == {"low-satisfaction", "completed"}


def test_a_template_and_a_rule_that_issues_it_load(tmp_path):
    rules = load_rules(write(tmp_path, VALID + APOLOGY + LOW_SATISFACTION))

    [template] = rules.coupons
    assert (template.max_uses, template.code_prefix, template.email_destination) == (1, "APOLOGY500", None)
    [rule] = rules.surveys.rules
    assert rule.when == Condition(op="<=", question="satisfaction", value=Decimal(2))
    assert rules.surveys.call_center_destination == "helpdesk"


def template(**changes: str) -> str:
    """The apology template with some lines replaced (``key = value`` as TOML) or added."""
    lines = [line for line in APOLOGY.splitlines() if line.split(" = ")[0] not in changes]
    return "\n".join([*lines, *(f"{key} = {value}" for key, value in changes.items())]) + "\n"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"value_type": '"percent"', "value": "150"}, "coupons[0]: value: a percent coupon takes 1 to 100, not 150"),
        ({"max_uses": "0"}, "coupons[0].max_uses: Input should be greater than or equal to 1"),
        ({"valid_days": "0"}, "coupons[0].valid_days: Input should be greater than or equal to 1"),
        ({"prefix": '"owabi!"'}, "coupons[0].prefix: String should match pattern '^[A-Z0-9]{1,12}$'"),
        ({"value_type": '"points"'}, "coupons[0].value_type: Input should be 'percent' or 'amount'"),
        ({"colour": '"red"'}, "coupons[0].colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_coupon_template_is_refused_naming_the_key(tmp_path, changes, message):
    assert refused(tmp_path, VALID + template(**changes)) == message


def test_a_template_defined_twice_is_refused(tmp_path):
    assert refused(tmp_path, VALID + APOLOGY + APOLOGY) == "coupons: coupon template apology-500 is defined twice"


def test_a_rule_issuing_an_unknown_template_is_refused(tmp_path):
    text = VALID + APOLOGY + LOW_SATISFACTION.replace('issue_coupon = "apology-500"', 'issue_coupon = "nope"')

    assert refused(tmp_path, text) == "surveys: rule low issues unknown coupon template nope"


def test_a_rule_notifying_the_call_center_needs_a_destination(tmp_path):
    text = VALID + APOLOGY + LOW_SATISFACTION.replace('call_center_destination = "helpdesk"\n', "")

    assert refused(tmp_path, text) == "surveys: rule low notifies the call center: set call_center_destination"


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ('{ question = "satisfaction", op = "<=" }', "op <= needs a value"),
        ('{ op = "<=", value = 2 }', "op <= needs a question"),
        ('{ question = "satisfaction", op = "<=", value = "low" }', "op <= compares numbers: value must be a number"),
        ('{ question = "satisfaction", op = "answered", value = 2 }', "op answered takes no value"),
        ('{ question = "satisfaction", op = "completed" }', "op completed takes no question and no value"),
        (
            '{ question = "satisfaction", op = "=<", value = 2 }',
            "op: Input should be 'completed', 'answered', '<', '<=', '==', '!=', '>=' or '>'",
        ),
    ],
)
def test_a_bad_condition_is_refused_naming_the_key(tmp_path, when, message):
    text = VALID + APOLOGY + LOW_SATISFACTION.replace('{ question = "satisfaction", op = "<=", value = 2 }', when)

    assert refused(tmp_path, text) == f"surveys.rules[0].when{'.op' if message.startswith('op:') else ''}: " + (
        message.removeprefix("op: ")
    )


def test_a_rule_without_an_action_is_refused(tmp_path):
    text = VALID + APOLOGY + LOW_SATISFACTION.replace('issue_coupon = "apology-500"\nnotify_call_center = true\n', "")

    assert refused(tmp_path, text) == (
        "surveys.rules[0]: give at least one action: issue_coupon, award_points or notify_call_center"
    )


@pytest.mark.parametrize(
    ("condition", "score", "answers", "matches"),
    [
        (Condition(op="<=", question="satisfaction", value=Decimal(2)), None, {"satisfaction": "2"}, True),
        (Condition(op="<=", question="satisfaction", value=Decimal(2)), None, {"satisfaction": "３"}, False),
        (Condition(op="<=", question="satisfaction", value=Decimal(2)), None, {"satisfaction": "１"}, True),
        (Condition(op="<=", question="satisfaction", value=Decimal(2)), None, {"satisfaction": "不満"}, False),
        (Condition(op="<=", question="satisfaction", value=Decimal(2)), None, {}, False),
        (Condition(op="<=", question="score", value=Decimal(6)), 6, {}, True),
        (Condition(op="<=", question="score", value=Decimal(6)), None, {}, False),
        (Condition(op="==", question="visit", value="店舗"), None, {"visit": " 店舗 "}, True),
        (Condition(op="==", question="visit", value=Decimal(2)), None, {"visit": "2.0"}, True),
        (Condition(op="!=", question="visit", value="店舗"), None, {"visit": "通販"}, True),
        (Condition(op="answered", question="comment"), None, {"comment": "  "}, False),
        (Condition(op="answered", question="comment"), None, {"comment": "遅かった"}, True),
        (Condition(op="completed"), None, {}, True),
    ],
)
def test_conditions_read_answers_as_a_member_typed_them(condition, score, answers, matches):
    assert condition.matches(score, answers) is matches
