"""``hub doctor``: one line per production-readiness check, exit code 1 when any check fails."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from hub.cli.common import console
from hub.settings import load_settings

if TYPE_CHECKING:  # hub.doctor loads the Redis client: imported when the command runs
    from hub.doctor import Finding

STYLES = {"OK": "green", "WARN": "yellow", "FAIL": "red"}
"""Colour of each ``hub.doctor.Status`` (a ``StrEnum``: its members are these strings)."""


def doctor() -> None:
    """Check config, keys, database schema, broker, every connector and the clocks; exit 1 if any check fails."""
    from hub.doctor import Status, diagnose

    findings = diagnose(load_settings(), broker_url=os.environ.get("HUB_BROKER_URL"))
    for finding in findings:
        console.print(format_finding(finding), highlight=False, soft_wrap=True)
    if any(finding.status is Status.FAIL for finding in findings):
        raise typer.Exit(1)


def format_finding(finding: Finding) -> str:
    """``FAIL  key file  <detail> — fix: <hint>`` with the status coloured; every value escaped for rich."""
    status = f"[{STYLES[finding.status]}]{finding.status.value:<4}[/]"
    hint = f" — fix: {escape(finding.hint)}" if finding.hint and finding.status != "OK" else ""
    return f"{status}  {escape(finding.check):<16} {escape(finding.detail)}{hint}"
