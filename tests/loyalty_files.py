"""Loyalty rules files for the end-to-end tests: one rank, points that never lapse, and optional extras."""

from __future__ import annotations


def one_rank_rules(version: str, *, ranks: str = "", extra: str = "") -> str:
    """Rules with a single ``regular`` rank (1 point per 100 yen); ``ranks`` adds keys to ``[ranks]``."""
    return f"""
version = "{version}"

[earning]
points_per_yen = 0.01

[expiry]
policy = "never"

[ranks]
{ranks}

[[ranks.levels]]
code = "regular"
name_ja = "レギュラー"
name_en = "Regular"
threshold = 0
multiplier = 1.0
{extra}"""


def apology_coupon(email_destination: str, *, surveys: str = "") -> str:
    """A 500-yen apology coupon mailed through ``email_destination`` to anyone answering satisfaction ≤ 2.

    ``surveys`` adds keys to ``[surveys]``.
    """
    settings = f"\n[surveys]\n{surveys}\n" if surveys else ""
    return f"""
[[coupons]]
code = "apology-500"
kind = "apology"
name_ja = "お詫びクーポン（500円引き）"
name_en = "Apology coupon (500 yen off)"
prefix = "OWABI"
value_type = "amount"
value = 500
valid_days = 30
max_uses = 1
email_destination = "{email_destination}"
{settings}
[[surveys.rules]]
code = "low-satisfaction"
survey_code = "post-purchase"
when = {{ question = "satisfaction", op = "<=", value = 2 }}
issue_coupon = "apology-500"
"""
