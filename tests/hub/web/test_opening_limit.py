"""One operator opening members in bulk is how a leak looks from the inside: past the hourly limit, 429 and an alert.

The web fixture's ``hub.toml`` allows 50 openings per hour.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from core.access import OpeningLimit
from tests.hub.web.captured_logs import captured_logs
from tests.hub.web.conftest import WebHub

PER_HOUR = 50


def openings(web: WebHub) -> int:
    with web.hub.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'open'")).scalar_one())


def test_the_51st_opening_within_an_hour_is_refused_with_retry_after_and_an_alert(web: WebHub):
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('operator', ['members:read'], name='crm')}"
    members = [web.members["hanako"], web.members["taro"]]
    for n in range(PER_HOUR):
        assert client.get(f"/api/v1/members/{members[n % 2]}").status_code == 200
    with captured_logs("INFO") as log:
        refused = client.get(f"/api/v1/members/{members[0]}")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 3601
    alerts = [json.loads(line) for line in log.getvalue().splitlines() if "member_opening_limit_reached" in line]
    assert len(alerts) == 1
    alert = {key: alerts[0][key] for key in ("event", "level", "actor", "role", "limit")}
    assert alert == {
        "event": "member_opening_limit_reached",
        "level": "warning",
        "actor": "token:crm",
        "role": "operator",
        "limit": PER_HOUR,
    }
    assert openings(web) == PER_HOUR  # the refused opening showed nothing, so it is not an access


def test_the_limit_is_per_operator(web: WebHub):
    busy = web.client()
    busy.headers["Authorization"] = f"Bearer {web.token('operator', ['members:read'], name='busy')}"
    for _ in range(PER_HOUR):
        busy.get(f"/api/v1/members/{web.members['hanako']}")
    assert busy.get(f"/api/v1/members/{web.members['hanako']}").status_code == 429
    page = web.signed_in("operator").get(f"/members/{web.members['hanako']}")
    assert page.status_code == 200


def test_the_console_shows_the_limit_as_a_429_page(web: WebHub):
    operator = web.signed_in("operator")
    for _ in range(PER_HOUR):
        assert operator.get(f"/members/{web.members['taro']}").status_code == 200
    refused = operator.get(f"/members/{web.members['taro']}")
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert "佐藤" not in refused.text  # nothing of the member on the refusal


def test_openings_count_again_once_the_hour_has_passed(web: WebHub):
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('operator', ['members:read'], name='crm')}"
    for _ in range(PER_HOUR):
        client.get(f"/api/v1/members/{web.members['hanako']}")
    assert client.get(f"/api/v1/members/{web.members['hanako']}").status_code == 429
    later = OpeningLimit(web.hub.engine, PER_HOUR, clock=lambda: datetime.now(UTC) + timedelta(hours=1, seconds=1))
    web.app.state.web.__dict__["opening_limit"] = later  # an hour on, on the limit's clock
    assert client.get(f"/api/v1/members/{web.members['hanako']}").status_code == 200
