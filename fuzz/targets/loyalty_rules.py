"""Loyalty rules files: ``load_rules`` must turn any file into ``LoyaltyRules`` or a ``ConfigError``."""

from __future__ import annotations

from collections.abc import Iterator

from core.errors import ConfigError
from core.loyalty.rules import load_rules
from fuzz.config_files import file_parser, shipped
from fuzz.target import FuzzTarget

parse = file_parser(load_rules, "loyalty.toml")


def seeds() -> Iterator[bytes]:
    """The shipped rules."""
    yield shipped("loyalty.toml")


TARGET = FuzzTarget("loyalty_rules", parse, (ConfigError,), seeds, "config")
