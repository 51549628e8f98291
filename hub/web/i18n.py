"""The console's two languages: message catalogs in ``locales/<lang>/*.toml`` (one file per area), chosen per user.

A missing key is a bug the catalog test catches; at run time it shows the key itself rather than failing.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LOCALES = ("ja", "en")
DEFAULT_LOCALE = "ja"
_DIR = Path(__file__).parent / "locales"


@cache
def catalog(locale: str) -> dict[str, str]:
    """Every message of one language, by key."""
    messages: dict[str, str] = {}
    for path in sorted((_DIR / locale).glob("*.toml")):
        messages.update(_flatten(tomllib.loads(path.read_text(encoding="utf-8"))))
    return messages


def translate(locale: str, key: str, **values: object) -> str:
    """The message ``key`` in ``locale``, with ``{name}`` placeholders filled in."""
    message = catalog(locale if locale in LOCALES else DEFAULT_LOCALE).get(key, key)
    return message.format(**values) if values else message


def negotiate(accept_language: str | None) -> str:
    """The first of our languages a browser's ``Accept-Language`` asks for; Japanese otherwise."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LOCALES:
            return tag
    return DEFAULT_LOCALE


def _flatten(data: dict[str, object], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat
