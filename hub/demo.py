"""The demo: realistic Japanese members (Faker ja_JP, the same people every run) and its connector config."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidInputError
from core.members.profile import MemberProfile
from core.normalize import normalize_phone

_MOBILE_PREFIXES = ("070", "080", "090")
_DOMAINS = ("example.jp", "example.co.jp", "example.ne.jp", "example.com")


def demo_profiles(count: int, *, seed: int = 2026) -> list[MemberProfile]:
    """``count`` members with kanji and kana names, mobile phones, emails, addresses and birthdays."""
    return list(_generate(count, seed))


def _generate(count: int, seed: int) -> Iterator[MemberProfile]:
    from faker import Faker  # here: every other command starts without Faker's locale data

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
ONLINE_INSTANCE = "demo-online"  # Shopify: the online store
TILLS_INSTANCE = "demo-tills"  # Square: the tills of the flagship stores
CALL_CENTER_INSTANCE = "demo-callcenter"  # Zendesk: the call center
MAIL_INSTANCE = "demo-mail"  # Klaviyo: email marketing and surveys
SURVEY_METRIC = "Survey Answered"
"""The Klaviyo metric whose events are the post-purchase survey's answers (the shipped rules' ``post-purchase``)."""


@dataclass(frozen=True)
class DemoInstance:
    """One emulator as a connector instance of the demo ``hub.toml``.

    ``settings`` are written into the instance's table; ``secrets`` map a setting (``…_env``) to the
    environment variable it names and the value exported there, so no secret is written to the file.
    """

    name: str
    type: str
    settings: Mapping[str, str | int]
    secrets: Mapping[str, tuple[str, str]]
    tables: str = ""
    """Extra TOML of the instance (sub-tables), written after its settings."""


def demo_config(instances: Sequence[DemoInstance], path: Path) -> Path:
    """Write the demo ``hub.toml``: every emulator a connector instance synced every minute, messages routed."""
    names = [instance.name for instance in instances]
    lines = [
        "# Written by `hub demo` on every start (the emulators' ports change); edit a copy, not this file.",
        "[hub]",
        f"source_priority = {_toml_list(['console', *names])}",
        "",
        "[identity]",
        f"trusted_email_sources = {_toml_list([MAIL_INSTANCE])}  # a double opt-in list: its emails are confirmed",
        "",
        "[console]",
        f"inquiry_destinations = {_toml_list([CALL_CENTER_INSTANCE])}",
        "",
        "[consent]",
        f"destinations = {_toml_list([ONLINE_INSTANCE, MAIL_INSTANCE])}",
        "",
        "[profiles]",
        f"destinations = {_toml_list([TILLS_INSTANCE])}",
    ]
    for instance in instances:
        lines += ["", f"[connectors.{instance.name}]", f'type = "{instance.type}"', 'schedule = "every 1m"']
        lines += [f"{key} = {_toml_value(value)}" for key, value in instance.settings.items()]
        lines += [f'{key} = "{variable}"' for key, (variable, _) in instance.secrets.items()]
        if instance.tables:
            lines += ["", instance.tables.strip()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def demo_rules(shipped: str) -> str:
    """The shipped loyalty rules with the demo's systems as destinations: coupons mailed, surveys to the call center."""
    replacements = {
        '# destinations = ["shopify-tokyo"]\n': f"destinations = {_toml_list([ONLINE_INSTANCE])}\n",
        '# email_destination = "mailer"': f'email_destination = "{MAIL_INSTANCE}"',
        '# call_center_destination = "helpdesk"': f'call_center_destination = "{CALL_CENTER_INSTANCE}"',
        "# notify_call_center = true": "notify_call_center = true",
        'destinations = []                 # e.g. ["klaviyo-mail"]': f"destinations = {_toml_list([MAIL_INSTANCE])}",
        'destinations = []                 # e.g. ["zendesk-support", "klaviyo-mail"]': "destinations = "
        + _toml_list([CALL_CENTER_INSTANCE, MAIL_INSTANCE, TILLS_INSTANCE]),
    }
    for old, new in replacements.items():
        if old not in shipped:
            raise ValueError(f"the shipped loyalty rules changed: {old!r} is gone (update hub.demo.demo_rules)")
        shipped = shipped.replace(old, new, 1)
    return shipped


def demo_environment(instances: Sequence[DemoInstance]) -> None:
    """Export the emulators' credentials under the variable names the demo ``hub.toml`` names."""
    for instance in instances:
        for variable, value in instance.secrets.values():
            os.environ[variable] = value


def _toml_value(value: str | int) -> str:
    return str(value) if isinstance(value, int) else f'"{value}"'


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"
