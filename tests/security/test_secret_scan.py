"""No secret in the repository: detect-secrets over every tracked file finds nothing but audited false positives.

``tests/security/secrets-allowlist.json`` lists each finding a person looked at and found harmless (names of
environment variables, UI labels such as "Password", the emulators' published test credentials, a test URL),
by file and hashed value. A new finding — a real token pasted into config or code — fails this test.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWLIST = Path(__file__).with_name("secrets-allowlist.json")


def _findings() -> set[tuple[str, str]]:
    detect_secrets = pytest.importorskip("detect_secrets")
    from detect_secrets.settings import default_settings

    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = [name for name in listed.split() if not name.endswith((".png", ".json"))]
    collection = detect_secrets.SecretsCollection(root=str(ROOT))
    with default_settings():
        collection.scan_files(*files)
    return {(name, item["hashed_secret"]) for name, items in collection.json().items() for item in items}


def test_every_secret_like_string_in_the_repository_is_an_audited_false_positive():
    allowed = {(entry["file"], entry["hashed_secret"]) for entry in json.loads(ALLOWLIST.read_text())}
    unexpected = sorted(_findings() - allowed)
    assert not unexpected, f"possible secrets (rotate them if real; else audit and allowlist): {unexpected}"
