"""Built-in key provider: ``HUB_KEYRING`` from the environment, otherwise the local key file."""

from __future__ import annotations

import os
from typing import Any

from core.crypto.key_providers import EnvKeyProvider, KeyFileProvider, KeyProvider
from core.plugins import hookimpl

ENV_VARIABLE = "HUB_KEYRING"


@hookimpl(trylast=True)
def memberhub_key_provider(settings: Any) -> KeyProvider:
    """Keys from ``HUB_KEYRING`` when set, else from the key file kept apart from the data directory."""
    if os.environ.get(ENV_VARIABLE):
        return EnvKeyProvider(ENV_VARIABLE)
    return KeyFileProvider(settings.key_file, data_dir=settings.home)
