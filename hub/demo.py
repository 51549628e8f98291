"""Realistic Japanese demo members (Faker ja_JP), the same people every run for a given seed."""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Iterator
from pathlib import Path

from faker import Faker

from core.errors import InvalidInputError
from core.members.profile import MemberProfile
from core.normalize import normalize_phone

_MOBILE_PREFIXES = ("070", "080", "090")
_DOMAINS = ("example.jp", "example.co.jp", "example.ne.jp", "example.com")


def demo_profiles(count: int, *, seed: int = 2026) -> list[MemberProfile]:
    """``count`` members with kanji and kana names, mobile phones, emails, addresses and birthdays."""
    return list(_generate(count, seed))


def _generate(count: int, seed: int) -> Iterator[MemberProfile]:
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    for index in range(count):
        last, last_kana, last_roman = fake.last_name_pair()
        female = rng.random() < 0.55
        first, first_kana, first_roman = fake.first_name_female_pair() if female else fake.first_name_male_pair()
        yield MemberProfile(
            name=f"{last} {first}",
            kana=f"{last_kana} {first_kana}",
            email=f"{first_roman.lower()}.{last_roman.lower()}{index}@{rng.choice(_DOMAINS)}",
            phone=_mobile_number(rng),
            postal_code=fake.zipcode(),
            address=f"{fake.prefecture()}{fake.city()}{fake.town()}{fake.chome()}{fake.ban()}{fake.gou()}",
            birthday=fake.date_of_birth(minimum_age=18, maximum_age=85),
        )


def _mobile_number(rng: random.Random) -> str:
    """A valid Japanese mobile number in the common hyphenated notation."""
    while True:
        number = f"{rng.choice(_MOBILE_PREFIXES)}-{rng.randrange(1000, 10000)}-{rng.randrange(10000):04d}"
        try:
            normalize_phone(number)
        except InvalidInputError:
            continue
        return number


DEMO_INSTANCE = "demo-shop"
_DEMO_TOKEN_ENV = "MEMBERHUB_DEMO_SHOP_TOKEN"  # noqa: S105 - a variable name, not a secret
_DEMO_SECRET_ENV = "MEMBERHUB_DEMO_SHOP_WEBHOOK_SECRET"  # noqa: S105


def demo_shop_config(sandbox_url: str, path: Path) -> Path:
    """Write a ``hub.toml`` with one example-connector instance pointed at a running sandbox."""
    path.write_text(
        f'[hub]\nsource_priority = ["console", "{DEMO_INSTANCE}"]\n\n'
        f'[connectors.{DEMO_INSTANCE}]\ntype = "example"\nbase_url = "{sandbox_url}"\n'
        f'token_env = "{_DEMO_TOKEN_ENV}"\nwebhook_secret_env = "{_DEMO_SECRET_ENV}"\npage_size = 50\n',
        encoding="utf-8",
    )
    return path


def demo_shop_environment(token: str) -> None:
    """Export the sandbox's credentials under the variable names the demo ``hub.toml`` names."""
    os.environ[_DEMO_TOKEN_ENV] = token
    os.environ.setdefault(_DEMO_SECRET_ENV, secrets.token_urlsafe(24))
