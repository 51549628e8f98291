"""The open-loop load of the console lookup benchmark, in a process of its own.

    .venv/bin/python bench/console_load.py BASE_URL PLAN.json

``PLAN.json`` (written by bench/console_lookup_bench.py) holds the operators' API tokens, the members to
look up (id, phone as national digits, member number), the warm-up and the steps (rate in lookups/s, seconds).

A lookup is what an operator does for a caller, one request after the other: search by the caller's phone
number or member number, written in one of several notations → open the first result (the summary, audited
and rate-limited) → the first timeline page (50 entries). Each step offers lookups on a fixed schedule
whatever the answers (open loop): lookup *i* is due at the step's start + *i* / rate, and its latency runs
from when it was due, not from when it was sent, so a server that falls behind shows its queue in the
figures instead of slowing the load down (no coordinated omission). A lookup fails on any status but 200, a
transport error or timeout, or a search that does not find the member.

Prints one JSON line as each step starts, and one when its last lookup has ended: offered rate, lookups/s
achieved, latency percentiles, each request's own p50/p99, errors by kind, how late this process sent
lookups (when it lags, the load generator is the bottleneck) and its CPU share.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timeline_bench import percentile  # noqa: E402

TIMEOUT_S = 30.0
SEARCH = "/api/v1/members/search"
REQUESTS = ("search", "summary", "timeline")
PHONE_NOTATIONS = (
    lambda d: f"{d[:3]}-{d[3:7]}-{d[7:]}",  # 090-1234-5678
    lambda d: d,  # 09012345678
    lambda d: f"+81 {d[1:3]} {d[3:7]} {d[7:]}",  # +81 90 1234 5678
    lambda d: f"+81{d[1:]}",  # +819012345678
    lambda d: d.translate(str.maketrans("0123456789", "０１２３４５６７８９")),  # full width
    lambda d: f"({d[:3]}) {d[3:7]}-{d[7:]}",  # (090) 1234-5678
)
NUMBER_NOTATIONS = (
    lambda d: f"{d[:4]}-{d[4:8]}-{d[8:]}",  # 1234-5678-9012, as printed on the card
    lambda d: d,  # 123456789012
    lambda d: f"{d[:4]} {d[4:8]} {d[8:]}",  # 1234 5678 9012
    lambda d: d.translate(str.maketrans("0123456789", "０１２３４５６７８９")),  # full width
)


@dataclass
class Lookup:
    """One lookup's outcome: seconds from when it was due to its end, each request's own seconds, its error."""

    latency: float = 0.0
    requests: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def main(argv: list[str]) -> int:
    base_url, plan_file = argv
    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    return asyncio.run(_drive(base_url, plan))


async def _drive(base_url: str, plan: dict[str, Any]) -> int:
    rng = random.Random(plan["seed"])  # which member, notation and operator: reproducible, not secrets
    # Idle connections are dropped before uvicorn's 5-second keep-alive timeout: reusing one the server is
    # closing at that moment fails with a read error that says nothing about the server's capacity.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=TIMEOUT_S) as client:
        warm_up = plan["warm_up"]
        await _step(client, plan, rng, warm_up["rate"], warm_up["seconds"])
        for step in plan["steps"]:
            print(json.dumps({"starting": step["rate"]}), flush=True)
            began, cpu = time.monotonic(), time.process_time()
            lookups, lags = await _step(client, plan, rng, step["rate"], step["seconds"])
            seconds = time.monotonic() - began
            summary = _summary(step["rate"], lookups, lags, seconds)
            print(json.dumps(summary | {"load_cpu": 100 * (time.process_time() - cpu) / seconds}), flush=True)
    return 0


async def _step(
    client: httpx.AsyncClient, plan: dict[str, Any], rng: random.Random, rate: float, seconds: float
) -> tuple[list[Lookup], list[float]]:
    """Lookups due every 1/rate seconds for ``seconds``; returns them once all have ended, and the send lags."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    tasks, lags = [], []
    for i in range(round(rate * seconds)):
        due = start + i / rate
        await asyncio.sleep(due - loop.time())
        lags.append(loop.time() - due)
        member, token = rng.choice(plan["members"]), rng.choice(plan["tokens"])
        tasks.append(asyncio.create_task(_lookup(client, _query(member, rng), member, token, due)))
    return list(await asyncio.gather(*tasks)), lags


def _query(member: dict[str, str], rng: random.Random) -> str:
    """The member's phone or member number, as a caller might read it out and an operator type it."""
    if rng.random() < 0.5:
        return rng.choice(PHONE_NOTATIONS)(member["phone"])
    return rng.choice(NUMBER_NOTATIONS)(member["member_number"].replace("-", ""))


async def _lookup(client: httpx.AsyncClient, query: str, member: dict[str, str], token: str, due: float) -> Lookup:
    loop, lookup = asyncio.get_running_loop(), Lookup()
    headers = {"authorization": f"Bearer {token}"}
    try:
        found = await _timed(lookup, "search", client.post(SEARCH, json={"query": query}, headers=headers))
        results = found.json()["results"]
        if results:
            opened = f"/api/v1/members/{results[0]['member_id']}"
            await _timed(lookup, "summary", client.get(opened, headers=headers))
            await _timed(lookup, "timeline", client.get(f"{opened}/timeline?limit=50", headers=headers))
        else:
            lookup.error = "search found nobody"
    except _Refused as refused:
        lookup.error = str(refused)
    except httpx.HTTPError as error:
        lookup.error = type(error).__name__
    lookup.latency = loop.time() - due
    return lookup


class _Refused(Exception):
    """A request answered with another status than 200."""


async def _timed(lookup: Lookup, name: str, request: Any) -> httpx.Response:
    loop = asyncio.get_running_loop()
    sent = loop.time()
    response: httpx.Response = await request
    lookup.requests[name] = loop.time() - sent
    if response.status_code != 200:
        raise _Refused(f"{name} HTTP {response.status_code}")
    return response


def _summary(rate: float, lookups: list[Lookup], lags: list[float], seconds: float) -> dict[str, Any]:
    """The step's figures in milliseconds; latency percentiles over every lookup, failed ones included."""
    latencies = [lookup.latency * 1e3 for lookup in lookups]
    requests = {}
    for name in REQUESTS:
        timings = [lookup.requests[name] * 1e3 for lookup in lookups if name in lookup.requests]
        requests[name] = [percentile(timings, 50), percentile(timings, 99)] if timings else None
    ok = sum(lookup.error is None for lookup in lookups)
    return {
        "rate": rate,
        "lookups": len(lookups),
        "achieved": ok / seconds,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "requests_ms": requests,
        "errors": dict(Counter(lookup.error for lookup in lookups if lookup.error)),
        "max_send_lag_ms": max(lags) * 1e3,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
