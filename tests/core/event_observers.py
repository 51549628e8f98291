"""Two observer plugins of domain events: one that always fails, one that keeps what it hears."""

from __future__ import annotations

from typing import Any

from core.plugins import hookimpl

heard: list[Any] = []


class FailingObserver:
    @hookimpl
    def memberhub_domain_event(self, event: Any) -> None:
        raise RuntimeError("observer bug")


class RecordingObserver:
    @hookimpl
    def memberhub_domain_event(self, event: Any) -> None:
        heard.append(event)
