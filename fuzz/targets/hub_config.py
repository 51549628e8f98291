"""``hub.toml``: ``load_hub_config`` must turn any file into a ``HubConfig`` or a ``ConfigError``."""

from __future__ import annotations

from collections.abc import Iterator

from core.errors import ConfigError
from fuzz.config_files import file_parser, shipped
from fuzz.target import FuzzTarget
from hub.config import load_hub_config

parse = file_parser(load_hub_config, "hub.toml")


def seeds() -> Iterator[bytes]:
    """The shipped example configuration."""
    yield shipped("hub.toml")


TARGET = FuzzTarget("hub_config", parse, (ConfigError,), seeds, "config")
