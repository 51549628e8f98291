"""A headless Debian Chromium to drive the console in end-to-end tests (``served`` runs the server)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page

from tests.conftest import _service_missing

ROOT = Path(__file__).resolve().parents[3]
# Test artifacts (git-ignored); MEMBERHUB_UPDATE_SCREENSHOTS=1 refreshes the README's copies in docs/screenshots.
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("MEMBERHUB_UPDATE_SCREENSHOTS") else ROOT / ".artifacts"
VIEWPORT = {"width": 1366, "height": 768}  # the call center's screens

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


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    """The page as a user sees it, in the test's own directory and in the artifacts (or docs/) directory."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image = page.screenshot(path=tmp_path / name, full_page=True)
    (SCREENSHOTS / name).write_bytes(image)
