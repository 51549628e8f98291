"""Every form a seeded plaintext value could take on disk or in a log line."""

from __future__ import annotations

import unicodedata

import ahocorasick
import phonenumbers

from core.members.profile import MemberProfile


def plaintext_forms(profile: MemberProfile) -> set[bytes]:
    """Byte strings that must never appear in a database file, a dump or a log of the hub."""
    texts: set[str] = set()
    for value in (profile.name, profile.kana, profile.email, profile.address, profile.notes):
        if value:
            texts |= _text_variants(value)
    if profile.phone:
        number = phonenumbers.parse(profile.phone, "JP")
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        texts |= {profile.phone, national, national.replace("-", ""), profile.phone.removeprefix("+")}
    if profile.birthday:
        texts.add(profile.birthday.isoformat())
    # Postal codes alone (7 digits) and compact birthdays (8 digits) are left out: in megabytes of hex-encoded
    # ciphertext and UUIDs they occur by chance. The address form above already carries the postal code.
    forms: set[bytes] = set()
    for text in texts:
        utf8 = text.encode()
        forms |= {utf8, text.encode("utf-16-le"), text.encode("utf-16-be"), utf8.hex().encode()}
    return forms


def _text_variants(value: str) -> set[str]:
    nfkc = unicodedata.normalize("NFKC", value)
    compact = "".join(nfkc.split())
    return {value, nfkc, nfkc.casefold(), compact, compact.casefold()}


def hits(haystack: bytes, profiles: list[MemberProfile]) -> list[str]:
    """Descriptions of the plaintext forms found in ``haystack`` (empty when none leaked).

    One Aho-Corasick pass over the bytes (as latin-1 text) finds every form of every member at once.
    """
    automaton = ahocorasick.Automaton()
    for index, profile in enumerate(profiles):
        for form in plaintext_forms(profile):
            automaton.add_word(form.decode("latin-1"), (index, len(form)))
    automaton.make_automaton()
    return [f"member #{index}: {length}-byte form" for _, (index, length) in automaton.iter(haystack.decode("latin-1"))]
