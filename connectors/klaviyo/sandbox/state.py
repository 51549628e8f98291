"""Everything the sandbox knows: profiles, events, metrics, lists, key, rate budget, faults and logs.

It also keeps the events it accepted and the subscription jobs it ran. One lock guards it: the server
thread and the test thread both use it. Tests drive it through the fault-injection methods (the
``FaultInjector`` protocol of ``core.sync.conformance``) and inspect what the connector wrote
(``received_events``, ``list_members``, ``profile``).
"""

from __future__ import annotations

import copy
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.klaviyo.sandbox import accounts
from connectors.klaviyo.sandbox.data import (
    METRIC_IDS,
    NEWSLETTER_LIST_ID,
    event_id,
    event_row,
    generate_events,
    generate_profiles,
    iso,
)
from connectors.sandbox_faults import FaultInjection

STREAMS = ("profiles", "consent", "survey_answers")
SURVEY_METRICS = ("Survey Answered", "NPS Answered")
"""The metrics the sandbox's survey answers are events of (what ``record_ids("survey_answers")`` counts)."""
PageKey = tuple[str, str]


@dataclass(frozen=True)
class RateLimit:
    """Klaviyo's two fixed windows per key: ``burst`` requests a second and ``steady`` a minute."""

    burst: int = 75
    steady: int = 700


@dataclass(frozen=True)
class LoggedRequest:
    """One request the sandbox answered."""

    method: str
    path: str
    status: int


@dataclass(frozen=True)
class ReceivedEvent:
    """An event ``POST /api/events/`` accepted (a resend with the same ``unique_id`` is not one)."""

    metric: str
    profile_id: str
    properties: Mapping[str, Any]
    unique_id: str
    time: str


@dataclass
class _Windows:
    second: float
    minute: float
    in_second: int = 0
    in_minute: int = 0


@dataclass
class SandboxState(FaultInjection):
    """The sandbox's world. Defaults: 57 profiles and 43 events, neither a multiple of a page size."""

    profiles: int = 57
    events: int = 43
    seed: int = 2026
    api_key: str = "pk_sandbox_0123456789abcdef"  # the emulator's published test credentials
    rate_limit: RateLimit | None = field(default_factory=RateLimit)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    base_url: str = "http://127.0.0.1"
    requests: list[LoggedRequest] = field(default_factory=list)
    received_events: list[ReceivedEvent] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    """Subscription jobs accepted, as ``{"type", "profiles", "list_id"}`` (applied at once)."""

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self.stopping = threading.Event()
        rows = generate_profiles(self.seed, self.profiles)
        self._profiles = {row["id"]: row for row in rows}
        self._events = {row["id"]: row for row in generate_events(self.seed, rows, self.events)}
        self._metrics = {metric_id: name for name, metric_id in METRIC_IDS.items()}
        self._lists: dict[str, dict[str, Any]] = {NEWSLETTER_LIST_ID: {"name": "メールマガジン", "members": {}}}
        self._unique_ids: set[tuple[str, str, str]] = set()
        self._init_faults()
        self._windows = _Windows(self.clock(), self.clock())
        for row in rows:
            if row["attributes"]["subscriptions"]["email"]["marketing"]["consent"] == "SUBSCRIBED":
                self._lists[NEWSLETTER_LIST_ID]["members"][row["id"]] = row["attributes"]["created"]

    # ── reading ────────────────────────────────────────────────────────────────────────────────────

    def record_ids(self, stream: str) -> set[str]:
        """Ids of every record of ``stream`` as the connector names them (consent: one per decision)."""
        with self._lock:
            if stream == "profiles":
                return set(self._profiles)
            if stream == "consent":
                return {cid for row in self._profiles.values() if (cid := accounts.consent_id(row)) is not None}
            survey_ids = {mid for mid, name in self._metrics.items() if name in SURVEY_METRICS}
            return {eid for eid, row in self._events.items() if _metric_of(row) in survey_ids}

    def profile(self, profile_id: str) -> dict[str, Any] | None:
        """A copy of a profile with its subscriptions, or ``None``."""
        with self._lock:
            row = self._profiles.get(profile_id)
            return copy.deepcopy(row) if row else None

    def profile_rows(self) -> list[dict[str, Any]]:
        """Copies of every profile."""
        with self._lock:
            return copy.deepcopy(list(self._profiles.values()))

    def event_rows(self) -> list[dict[str, Any]]:
        """Copies of every event."""
        with self._lock:
            return copy.deepcopy(list(self._events.values()))

    def metrics(self) -> dict[str, str]:
        """Metric id → name."""
        with self._lock:
            return dict(self._metrics)

    def list_members(self, list_id: str) -> dict[str, str] | None:
        """Profile id → when it joined the list, or ``None`` for an unknown list."""
        with self._lock:
            found = self._lists.get(list_id)
            return dict(found["members"]) if found else None

    def add_list(self, list_id: str, name: str) -> None:
        """Create an empty list (for segment lists)."""
        with self._lock:
            self._lists.setdefault(list_id, {"name": name, "members": {}})

    def events_named(self, metric: str) -> list[ReceivedEvent]:
        """The events of ``metric`` the API accepted."""
        with self._lock:
            return [event for event in self.received_events if event.metric == metric]

    # ── changes ────────────────────────────────────────────────────────────────────────────────────

    def update_record(self, stream: str, record_id: str, **attributes: Any) -> dict[str, Any]:
        """Touch a record (and change ``attributes``): its cursor field becomes later than every other's."""
        with self._lock:
            if stream == "survey_answers":
                row = self._events[record_id]
                latest = max(datetime.fromisoformat(e["attributes"]["datetime"]) for e in self._events.values())
                row["attributes"].update(datetime=iso(latest + timedelta(seconds=1)), **attributes)
                return copy.deepcopy(row)
            profile_id = record_id.partition(":")[0]
            return self.change_profile(profile_id, attributes)

    def change_profile(self, profile_id: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply attribute changes (``properties`` merged, ``None`` removing one) and bump ``updated``."""
        with self._lock:
            row = self._profiles[profile_id]
            accounts.apply_attributes(row, attributes)
            row["attributes"]["updated"] = iso(self.next_update())
            return copy.deepcopy(row)

    def next_update(self) -> datetime:
        """An ``updated`` later than every profile's, and not before now."""
        with self._lock:
            latest = max((datetime.fromisoformat(r["attributes"]["updated"]) for r in self._profiles.values()),
                         default=datetime.fromtimestamp(0, UTC))  # fmt: skip
            now = datetime.fromtimestamp(math.floor(self.wall_clock()), UTC)
            return max(now, latest + timedelta(seconds=1))

    def create_profile(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """A new profile (the caller checked its identifiers are free)."""
        with self._lock:
            row = accounts.new_profile(f"01JSBX{secrets.token_hex(10).upper()}", attributes, iso(self.next_update()))
            self._profiles[row["id"]] = row
            return copy.deepcopy(row)

    def profile_with(self, field_name: str, value: Any) -> str | None:
        """The id of the profile whose identifier ``field_name`` (email, phone_number, external_id) is ``value``."""
        if value is None:
            return None
        with self._lock:
            return next((pid for pid, r in self._profiles.items() if r["attributes"].get(field_name) == value), None)

    def add_event(
        self, profile_id: str, metric: str, properties: Mapping[str, Any], when: datetime | None = None
    ) -> str:
        """Record an event as if it happened in Klaviyo (a survey answered): returns its id."""
        with self._lock:
            if profile_id not in self._profiles:
                raise KeyError("no such profile")
            metric_id = self._metric_id(metric)
            row_id = event_id(self.seed, 10_000 + len(self._events))
            moment = when or datetime.fromtimestamp(math.floor(self.wall_clock()), UTC)
            self._events[row_id] = event_row(row_id, metric_id, profile_id, dict(properties), moment)
            return row_id

    def accept_event(self, event: ReceivedEvent) -> bool:
        """Keep a posted event unless its ``unique_id`` was seen for the same metric and profile."""
        with self._lock:
            key = (event.metric, event.profile_id, event.unique_id)
            if key in self._unique_ids:
                return False
            self._unique_ids.add(key)
            self.received_events.append(event)
            self.add_event(event.profile_id, event.metric, event.properties, datetime.fromisoformat(event.time))
            return True

    def change_list(self, list_id: str, profile_ids: Iterable[str], *, add: bool) -> None:
        """Add profiles to a list or remove them (the caller checked both exist)."""
        with self._lock:
            members = self._lists[list_id]["members"]
            for profile_id in profile_ids:
                if add:
                    members.setdefault(profile_id, iso(self.next_update()))
                else:
                    members.pop(profile_id, None)

    def set_consent(self, profile_id: str, consent: str, consented_at: datetime | None) -> None:
        """Subscribe or unsubscribe a profile (an opt-out suppression is lifted by a subscribe)."""
        with self._lock:
            row = self._profiles[profile_id]
            moment = consented_at or datetime.fromtimestamp(math.floor(self.wall_clock()), UTC)
            accounts.set_marketing(row, consent, iso(moment))
            row["attributes"]["updated"] = iso(self.next_update())

    def _metric_id(self, name: str) -> str:
        found = next((mid for mid, known in self._metrics.items() if known == name), None)
        if found is None:
            found = f"M{len(self._metrics):05d}"
            self._metrics[found] = name
        return found

    # ── faults ─────────────────────────────────────────────────────────────────────────────────────

    def reject_credentials(self) -> None:
        """Revoke the current key: every client still using it gets 401 from now on."""
        with self._lock:
            self.api_key = f"pk_{secrets.token_hex(16)}"

    # ── requests and the rate budget ───────────────────────────────────────────────────────────────

    def log(self, method: str, path: str, status: int) -> None:
        """Record an answered request."""
        with self._lock:
            self.requests.append(LoggedRequest(method, path, status))

    def request_count(self, path: str | None = None, *, status: int | None = None) -> int:
        """How many requests were answered (under ``path``, with ``status``, if given)."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (path is None or r.path.startswith(path)) and (status is None or r.status == status)
            )

    def spend_budget(self) -> tuple[int | None, dict[str, str]]:
        """Count a request against both windows: seconds to wait when over one, and the ``RateLimit-*`` headers."""
        if self.rate_limit is None:
            return None, {}
        with self._lock:
            now, limit, windows = self.clock(), self.rate_limit, self._windows
            if now - windows.second >= 1.0:
                windows.second, windows.in_second = now, 0
            if now - windows.minute >= 60.0:
                windows.minute, windows.in_minute = now, 0
            if windows.in_minute >= limit.steady:
                return max(1, math.ceil(windows.minute + 60.0 - now)), {}
            if windows.in_second >= limit.burst:
                return 1, {}
            windows.in_second += 1
            windows.in_minute += 1
            reset = max(0, math.ceil(windows.minute + 60.0 - now))
            headers = {
                "RateLimit-Limit": str(limit.steady),
                "RateLimit-Remaining": str(limit.steady - windows.in_minute),
                "RateLimit-Reset": str(reset),
            }
            return None, headers


def _metric_of(row: Mapping[str, Any]) -> str:
    return str(row["relationships"]["metric"]["data"]["id"])
