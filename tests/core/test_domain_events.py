"""Domain events reach every observer, even when another observer fails."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from uuid import uuid4

from core.events import MemberMerged
from core.logs import configure_logging
from core.plugins.manager import build_plugin_manager, publish_events
from tests.core import event_observers


def test_a_failing_observer_is_logged_and_the_others_still_hear_the_event() -> None:
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    manager = build_plugin_manager(load_entry_points=False)
    manager.register(event_observers.FailingObserver(), name="failing")
    manager.register(event_observers.RecordingObserver(), name="recording")
    event = MemberMerged(datetime.now(UTC), 7, uuid4(), uuid4(), "manual")
    event_observers.heard.clear()

    publish_events(manager, [event])

    assert event_observers.heard == [event]
    [line] = [json.loads(line) for line in stream.getvalue().splitlines() if "observer_failed" in line]
    assert (line["plugin"], line["domain_event"], line["error_class"]) == ("failing", "member_merged", "RuntimeError")
