"""Where the hub keeps its data and keys, from the environment with per-user defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from sqlalchemy.engine import make_url

from core.errors import ConfigError

APP_NAME = "memberhub"


@dataclass(frozen=True)
class HubSettings:
    """Paths and URLs of one hub installation.

    ``home`` holds the SQLite database; ``key_file`` holds the key ring and must live elsewhere, so a copy of
    the data directory (a backup, a stolen disk image) never carries the means to decrypt it. The erasure
    ledger sits beside the key file for the same reason: a restored backup must not bring it back.
    """

    home: Path
    key_file: Path
    database_url: str = field(repr=False)  # may hold the database password
    config_file: Path | None = None
    loyalty_rules: Path | None = None
    plugins: tuple[str, ...] = ()
    """Modules loaded as plugins besides the installed entry points (``HUB_PLUGIN_MODULES``)."""

    @property
    def erasure_ledger(self) -> Path:
        """Append-only list of erased member ids, re-applied after a backup restore."""
        return self.key_file.parent / "erasure-ledger.jsonl"

    @property
    def is_sqlite(self) -> bool:
        """Whether the hub runs on the embedded SQLite store."""
        return self.database_url.startswith("sqlite")


def load_settings() -> HubSettings:
    """Settings from the ``HUB_*`` environment variables (the README's Configuration table lists them).

    ``HUB_CONFIG`` defaults to ``$HUB_HOME/hub.toml``; without ``HUB_LOYALTY_RULES`` the hub reads
    ``$HUB_HOME/loyalty.toml`` if it exists, else the shipped example rules. ``HUB_DATABASE_PASSWORD_FILE`` names a
    file holding the database password (a Docker secret), so neither the URL nor the environment carries it.
    ``HUB_PLUGIN_MODULES`` lists importable modules (comma-separated) that register hooks, as an installed
    distribution's entry points would: a connector under development, or one kept on ``PYTHONPATH``.
    """
    home = Path(os.environ.get("HUB_HOME") or platformdirs.user_data_dir(APP_NAME)).expanduser().resolve()
    key_file = os.environ.get("HUB_KEY_FILE") or Path(platformdirs.user_config_dir(APP_NAME)) / "keyring.json"
    database_url = _with_password_file(os.environ.get("HUB_DATABASE_URL") or f"sqlite:///{home / 'hub.sqlite3'}")
    config_file = Path(os.environ.get("HUB_CONFIG") or home / "hub.toml").expanduser().resolve()
    rules = os.environ.get("HUB_LOYALTY_RULES")
    loyalty_rules = Path(rules).expanduser().resolve() if rules else None
    plugins = _plugin_modules(os.environ.get("HUB_PLUGIN_MODULES", ""))
    return HubSettings(home, Path(key_file).expanduser().resolve(), database_url, config_file, loyalty_rules, plugins)


def _plugin_modules(text: str) -> tuple[str, ...]:
    """The module names of ``HUB_PLUGIN_MODULES``; anything but dotted Python names is refused."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ConfigError(f"HUB_PLUGIN_MODULES: {name!r} is not a module name")
    return names


def _with_password_file(url: str) -> str:
    """``url`` with the password of ``HUB_DATABASE_PASSWORD_FILE`` when that is set (trailing newlines dropped)."""
    password_file = os.environ.get("HUB_DATABASE_PASSWORD_FILE")
    if not password_file:
        return url
    try:
        password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise ConfigError(f"HUB_DATABASE_PASSWORD_FILE: {password_file} cannot be read ({error.strerror})") from None
    if not password:
        raise ConfigError(f"HUB_DATABASE_PASSWORD_FILE: {password_file} is empty")
    parsed = make_url(url)
    if parsed.password is not None:
        raise ConfigError("HUB_DATABASE_URL holds a password and HUB_DATABASE_PASSWORD_FILE names another: keep one")
    return parsed.set(password=password).render_as_string(hide_password=False)
