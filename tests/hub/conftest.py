"""Run the real ``hub`` command in a subprocess with its own data directory and key file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class HubCli:
    """The ``hub`` command bound to one installation's environment."""

    env: dict[str, str]
    home: Path
    key_file: Path

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "hub.cli.app", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr + result.stdout
        return result


@pytest.fixture
def hub_cli(tmp_path: Path) -> HubCli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    home, key_file = tmp_path / "data", tmp_path / "keys" / "keyring.json"
    env |= {"HUB_HOME": str(home), "HUB_KEY_FILE": str(key_file), "COLUMNS": "200", "NO_COLOR": "1"}
    return HubCli(env, home, key_file)
