"""The demo: realistic Japanese members (Faker ja_JP, the same people every run) and its connector config."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
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


STORE_INSTANCE = "demo-store"  # the example connector: a POS and CRM of the shops
ONLINE_INSTANCE = "demo-online"  # the Shopify connector: the online store
_ENV = {
    "store_token": "MEMBERHUB_DEMO_STORE_TOKEN",
    "store_hooks": "MEMBERHUB_DEMO_STORE_WEBHOOK_SECRET",
    "online_token": "MEMBERHUB_DEMO_ONLINE_TOKEN",
    "online_hooks": "MEMBERHUB_DEMO_ONLINE_WEBHOOK_SECRET",
}  # variable names, not secrets


@dataclass(frozen=True)
class DemoSandboxes:
    """Where the demo's emulators listen and the credentials they accept."""

    store_url: str
    store_token: str
    store_webhook_secret: str
    online_url: str
    online_token: str
    online_webhook_secret: str


def demo_config(sandboxes: DemoSandboxes, path: Path) -> Path:
    """Write the demo ``hub.toml``: both emulators as connector instances, synced every minute."""
    path.write_text(
        f"""# Written by `hub demo` on every start (the emulators' ports change); edit a copy, not this file.
[hub]
source_priority = ["console", "{ONLINE_INSTANCE}", "{STORE_INSTANCE}"]

[connectors.{STORE_INSTANCE}]
type = "example"
schedule = "every 1m"
base_url = "{sandboxes.store_url}"
token_env = "{_ENV["store_token"]}"
webhook_secret_env = "{_ENV["store_hooks"]}"
page_size = 50

[connectors.{ONLINE_INSTANCE}]
type = "shopify"
schedule = "every 1m"
shop_url = "{sandboxes.online_url}"
token_env = "{_ENV["online_token"]}"
webhook_secret_env = "{_ENV["online_hooks"]}"
""",
        encoding="utf-8",
    )
    return path


def demo_environment(sandboxes: DemoSandboxes) -> None:
    """Export the emulators' credentials under the variable names the demo ``hub.toml`` names."""
    os.environ[_ENV["store_token"]] = sandboxes.store_token
    os.environ[_ENV["store_hooks"]] = sandboxes.store_webhook_secret
    os.environ[_ENV["online_token"]] = sandboxes.online_token
    os.environ[_ENV["online_hooks"]] = sandboxes.online_webhook_secret
