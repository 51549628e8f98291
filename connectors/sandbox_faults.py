"""Faults a sandbox emulator can be told to inject, queued by tests and consumed one request at a time.

``FaultInjection`` is the part of a sandbox's state that the conformance kit's ``FaultInjector`` drives
(``fail_next``, ``throttle_next``, ``hang_next``, ``serve_garbage``, ``serve_non_json``); each sandbox's app
asks ``take_fault`` at the stage that answers a kind of fault — before authentication for the network and
gateway faults, on a page that answered 200 for the body faults — and answers in its API's own shape.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["fail", "throttle", "hang", "garbage", "non_json"]
BEFORE_AUTH: frozenset[FaultKind] = frozenset({"fail", "throttle", "hang"})
"""Faults of the network and gateway, answered before the credentials are even looked at."""
ON_PAGES: frozenset[FaultKind] = frozenset({"garbage", "non_json"})
"""Faults of a page's body, applied only to pages that answered 200."""


@dataclass
class Fault:
    """``remaining`` more requests (under ``path``, if set) get this fault, after ``spared`` more pass."""

    kind: FaultKind
    remaining: int
    status: int = 503
    retry_after: int | None = 1
    seconds: float = 0.0
    path: str | None = None
    spared: int = 0

    def matches(self, kinds: frozenset[FaultKind], path: str) -> bool:
        """Whether this fault applies to a request for ``path`` at the stage that handles ``kinds``."""
        return self.kind in kinds and self.remaining > 0 and (self.path is None or path.startswith(self.path))


class FaultInjection:
    """A sandbox state's queue of faults; call ``_init_faults`` from the state's ``__init__``/``__post_init__``."""

    _faults: list[Fault]
    _fault_lock: threading.Lock

    def _init_faults(self) -> None:
        self._faults = []
        self._fault_lock = threading.Lock()

    def clear_faults(self) -> None:
        """Drop every queued fault: the API has recovered."""
        with self._fault_lock:
            self._faults.clear()

    def fail_next(self, n: int, status: int = 503, *, path: str | None = None, spare: int = 0) -> None:
        """Answer the next ``n`` requests (under ``path``) with ``status`` and the API's error body.

        ``spare`` lets that many matching requests through first (a failure in the middle of a read).
        """
        self._queue(Fault("fail", n, status=status, path=path, spared=spare))

    def throttle_next(self, n: int, retry_after: int | None = 1, *, path: str | None = None) -> None:
        """A 429 storm: the next ``n`` requests get 429, with ``Retry-After: retry_after`` where the API sends one."""
        self._queue(Fault("throttle", n, status=429, retry_after=retry_after, path=path))

    def hang_next(self, n: int = 1, seconds: float = 30.0, *, path: str | None = None) -> None:
        """The next ``n`` requests wait ``seconds`` (or until the server stops) before a 504."""
        self._queue(Fault("hang", n, status=504, seconds=seconds, path=path))

    def serve_garbage(self, n: int, *, path: str | None = None) -> None:
        """The next ``n`` pages carry broken records (missing id, wrong types …), the rest of them valid."""
        self._queue(Fault("garbage", n, path=path))

    def serve_non_json(self, n: int, *, path: str | None = None) -> None:
        """The next ``n`` pages are a 200 HTML maintenance page instead of JSON."""
        self._queue(Fault("non_json", n, path=path))

    def take_fault(self, kinds: frozenset[FaultKind], path: str = "") -> Fault | None:
        """Consume one request's worth of the oldest queued fault of ``kinds`` that matches ``path``."""
        with self._fault_lock:
            for fault in self._faults:
                if fault.matches(kinds, path):
                    if fault.spared > 0:
                        fault.spared -= 1
                        return None
                    fault.remaining -= 1
                    return fault
            return None

    def _queue(self, fault: Fault) -> None:
        with self._fault_lock:
            self._faults = [*(queued for queued in self._faults if queued.remaining > 0), fault]
