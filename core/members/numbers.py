"""Member numbers: twelve digits printed on cards, random (they reveal nothing) with a Luhn check digit."""

from __future__ import annotations

import secrets

from core.normalize import normalize_member_number

_PAYLOAD_DIGITS = 11


def luhn_check_digit(payload: str) -> int:
    """The Luhn digit that makes ``payload + digit`` valid, so a mistyped digit is caught at the counter."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return (10 - total % 10) % 10


def new_member_number() -> str:
    """A fresh random member number formatted ``1234-5678-9012``."""
    payload = f"{secrets.randbelow(10**_PAYLOAD_DIGITS):0{_PAYLOAD_DIGITS}d}"
    digits = f"{payload}{luhn_check_digit(payload)}"
    return f"{digits[0:4]}-{digits[4:8]}-{digits[8:12]}"


def looks_like_member_number(value: str) -> bool:
    """Whether a search query has the shape of a member number (12 digits whose check digit holds)."""
    digits = normalize_member_number(value)
    return len(digits) == 12 and digits.isdigit() and luhn_check_digit(digits[:-1]) == int(digits[-1])
