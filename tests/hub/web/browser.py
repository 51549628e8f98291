"""A headless Debian Chromium to drive the console in end-to-end tests (``served`` runs the server)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import _service_missing

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `playwright install` cannot download browsers here
CHROMIUM_ARGS = (
    "--no-sandbox",  # CI runs as root in a container, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def require_chromium() -> Path:
    """The Chromium binary; skips without it on a developer machine and fails in CI, where it must be installed."""
    if not os.access(CHROMIUM, os.X_OK):
        _service_missing(f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")
    return CHROMIUM
