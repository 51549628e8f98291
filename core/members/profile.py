"""A member's personal data as the domain sees it (plaintext, only ever in memory)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from core.errors import InvalidInputError
from core.normalize import (
    normalize_email,
    normalize_kana,
    normalize_member_number,
    normalize_name,
    normalize_phone,
)

_POSTAL_CODE = re.compile(r"^〒?\s*(\d{3})-?(\d{4})$")


@dataclass(frozen=True)
class MemberProfile:
    """Personal data of one member. Phone numbers are kept in E.164, postal codes as ``123-4567``.

    ``name`` is ``None`` only for members created from source records (a purchase can name a customer
    whose profile arrives later); members entered by hand always have one.
    """

    name: str | None
    kana: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    address: str | None = None
    birthday: date | None = None
    notes: str | None = None

    def validated(self, *, require_name: bool = True) -> MemberProfile:
        """A copy with every field checked and put in its canonical form; raises ``InvalidInputError``.

        ``require_name=False`` accepts a profile without a name, as a source system may send one.
        """
        name = _clean(self.name)
        if not name and require_name:
            raise InvalidInputError("a member needs a name")
        email = self.email.strip() if self.email else None
        if email:
            normalize_email(email)
        return replace(
            self,
            name=name,
            kana=_clean(self.kana),
            email=email or None,
            phone=normalize_phone(self.phone) if self.phone and self.phone.strip() else None,
            postal_code=_postal_code(self.postal_code),
            address=_clean(self.address),
            notes=_clean(self.notes),
        )

    def sealable_fields(self, member_number: str) -> dict[str, str | None]:
        """The plaintext of each encrypted column, keyed by field name."""
        address = None
        if self.postal_code or self.address:
            address = json.dumps({"postal_code": self.postal_code, "address": self.address}, ensure_ascii=False)
        return {
            "member_number": member_number,
            "name": self.name,
            "kana": self.kana,
            "email": self.email,
            "phone": self.phone,
            "address": address,
            "birthday": self.birthday.isoformat() if self.birthday else None,
            "notes": self.notes,
        }

    def index_values(self, member_number: str) -> dict[str, str | None]:
        """Normalised values for each blind index.

        ``name_birthday`` and ``kana_birthday`` pair the name with the birthday, so that identity resolution
        finds "same name, same birthday" candidates by an exact lookup instead of decrypting every namesake.
        """
        name = normalize_name(self.name) if self.name else None
        kana = normalize_kana(self.kana) if self.kana else None
        birthday = self.birthday.isoformat() if self.birthday else None
        return {
            "member_number": normalize_member_number(member_number),
            "name": name,
            "kana": kana,
            "email": normalize_email(self.email) if self.email else None,
            "phone": self.phone,
            "name_birthday": f"{name}|{birthday}" if name and birthday else None,
            "kana_birthday": f"{kana}|{birthday}" if kana and birthday else None,
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str | None]) -> MemberProfile:
        """Rebuild a profile from decrypted fields (the inverse of ``sealable_fields``)."""
        stored_address = fields.get("address")
        address = json.loads(stored_address) if stored_address else {}
        birthday = fields.get("birthday")
        return cls(
            name=fields.get("name"),
            kana=fields.get("kana"),
            email=fields.get("email"),
            phone=fields.get("phone"),
            postal_code=address.get("postal_code"),
            address=address.get("address"),
            birthday=date.fromisoformat(birthday) if birthday else None,
            notes=fields.get("notes"),
        )


@dataclass(frozen=True)
class Member:
    """A member as read from the store; ``profile`` is ``None`` once the member is erased."""

    id: UUID
    status: str
    member_number: str | None
    profile: MemberProfile | None
    rank_code: str | None
    created_at: datetime
    merged_into: UUID | None = None
    """Set while the member is merged into another (status ``merged``)."""


def parse_birthday(value: str) -> date:
    """A birthday from ``YYYY-MM-DD`` (full-width digits accepted)."""
    try:
        return date.fromisoformat(unicodedata.normalize("NFKC", value).strip())
    except ValueError:
        raise InvalidInputError("birthday must be a date written YYYY-MM-DD") from None


def _clean(value: str | None) -> str | None:
    value = unicodedata.normalize("NFKC", value).strip() if value else None
    return value or None


def _postal_code(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    match = _POSTAL_CODE.match(unicodedata.normalize("NFKC", value).strip())
    if not match:
        raise InvalidInputError("postal code must have 7 digits, e.g. 100-0001")
    return f"{match.group(1)}-{match.group(2)}"
