"""Masked forms of contact details, shown where an operator has not opened the member."""

from __future__ import annotations

import phonenumbers


def mask_email(email: str) -> str:
    """``taro.yamada@example.jp`` → ``t***@example.jp``."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(e164: str) -> str:
    """``+819012345678`` → ``090-****-5678`` (national notation, middle group hidden)."""
    number = phonenumbers.parse(e164, "JP")
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    groups = national.split("-")
    if len(groups) == 3:
        return f"{groups[0]}-{'*' * len(groups[1])}-{groups[2]}"
    return f"{national[:3]}****{national[-4:]}"


def format_phone(e164: str) -> str:
    """``+819012345678`` → ``090-1234-5678`` for display to someone allowed to see it."""
    number = phonenumbers.parse(e164, "JP")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
