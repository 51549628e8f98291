"""How identity resolution may match records to members: the ``[identity]`` table of ``hub.toml``.

Also the guards against over-merging that need no configuration: placeholder values a source sends for
"no email" or "no phone" (``unknown``, ``-``, ``090-0000-0000``, ``noreply@…``) are never identifiers.
"""

from __future__ import annotations

import re
import unicodedata
from fnmatch import translate
from functools import cached_property
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from core.errors import InvalidInputError
from core.normalize import normalize_email, normalize_phone

Identifier = Literal["email", "phone"]
"""The identifier types that can match a record to a member on their own."""

# What sources put in a field they have no value for, compared after NFKC, trimming and case folding.
_PLACEHOLDERS = frozenset(
    {"", "-", "--", "---", "_", ".", "?", "0", "n/a", "na", "none", "null", "nil", "unknown", "なし", "無し", "不明"}
)
# Addresses a shop enters for a customer without one; matched on the local part, whatever the domain.
_NO_EMAIL_LOCAL_PARTS = frozenset(
    {"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "noemail", "no-email", "no_email",
     "nomail", "no-mail", "none", "null", "unknown", "dummy"}
)  # fmt: skip
_SUBSCRIBER_DIGITS = 8  # the last 8 digits of a Japanese number (市内局番 + 加入者番号) are never one repeated digit


def _folded(value: str) -> str:
    """NFKC, trimmed and case-folded: how raw values are compared with placeholders and blocked addresses."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


def _blocked_email_form(value: str) -> str:
    """A blocked address or pattern (with ``*``), folded as record values are before they are compared."""
    try:
        if "*" not in value:
            normalize_email(value)
    except InvalidInputError:
        raise ValueError("not an email address (use * for a pattern, e.g. 'guest-*@shop.example.jp')") from None
    return _folded(value)


def _blocked_phone_form(value: str) -> str:
    try:
        return normalize_phone(value)
    except InvalidInputError:
        raise ValueError("not a valid phone number") from None


BlockedEmail = Annotated[str, AfterValidator(_blocked_email_form)]
BlockedPhone = Annotated[str, AfterValidator(_blocked_phone_form)]


class IdentifierLimits(BaseModel):
    """How many members (clusters) may hold one value before it stops matching on its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: int = Field(default=1, ge=1, le=100)
    phone: int = Field(default=3, ge=1, le=100)


class IdentityPolicy(BaseModel):
    """Matching rules; the defaults are what a hub without an ``[identity]`` table uses.

    ``match_on`` lists the identifier types that match, in priority order (a type left out never matches).
    An email matches on its own only when the record says it is verified or its source is listed in
    ``trusted_email_sources``. ``blocked_emails`` (exact addresses, or patterns with ``*``) and
    ``blocked_phones`` are shop-wide dummies: dropped from records like the built-in placeholders. A value
    held by more members than ``max_members_per_identifier`` allows is no longer matched automatically.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    match_on: tuple[Identifier, ...] = ("email", "phone")
    trusted_email_sources: frozenset[Annotated[str, Field(min_length=1)]] = frozenset()
    blocked_emails: tuple[BlockedEmail, ...] = ()
    blocked_phones: tuple[BlockedPhone, ...] = ()
    max_members_per_identifier: IdentifierLimits = IdentifierLimits()

    @field_validator("match_on")
    @classmethod
    def _no_repeats(cls, value: tuple[Identifier, ...]) -> tuple[Identifier, ...]:
        if len(set(value)) != len(value):
            raise ValueError("list each identifier type once")
        return value

    def limit(self, identifier: Identifier) -> int:
        """How many clusters may hold one value of ``identifier`` while it still matches automatically."""
        limit: int = getattr(self.max_members_per_identifier, identifier)
        return limit

    def trusts_email_from(self, source: str) -> bool:
        """Whether every email from ``source`` counts as verified."""
        return source in self.trusted_email_sources

    def usable_email(self, raw: str | None) -> bool:
        """Whether a raw email field holds something other than a placeholder or a shop-wide dummy."""
        if raw is None:
            return False
        email = _folded(raw)
        pattern = self._blocked_email_pattern
        return not (
            email in _PLACEHOLDERS
            or email.partition("@")[0] in _NO_EMAIL_LOCAL_PARTS
            or email in self._blocked_email_set
            or (pattern is not None and pattern.match(email))
        )

    def usable_phone(self, raw: str | None) -> bool:
        """Whether a raw phone field holds something other than a placeholder; dummies are checked once valid."""
        if raw is None or _folded(raw) in _PLACEHOLDERS:
            return False
        digits = [ch for ch in unicodedata.normalize("NFKC", raw) if ch.isdigit()]
        return bool(digits) and len(set(digits[-_SUBSCRIBER_DIGITS:])) > 1 and len(set(digits)) > 1

    def blocks_phone(self, e164: str) -> bool:
        """Whether a valid phone number (E.164) is one of the configured shop-wide dummies."""
        return e164 in self.blocked_phones

    @cached_property
    def _blocked_email_set(self) -> frozenset[str]:
        return frozenset(value for value in self.blocked_emails if "*" not in value)

    @cached_property
    def _blocked_email_pattern(self) -> re.Pattern[str] | None:
        patterns = [translate(value) for value in self.blocked_emails if "*" in value]
        return re.compile("|".join(patterns)) if patterns else None
