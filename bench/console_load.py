"""The open-loop load of the console lookup benchmark, in a process of its own.

    .venv/bin/python bench/console_load.py BASE_URL PLAN.json

``PLAN.json`` (written by bench/console_lookup_bench.py) holds the operators' API tokens, the members to
look up (id, phone as national digits, member number), the warm-up and the steps (rate in lookups/s, seconds).

A lookup is what an operator does for a caller, one request after the other: search by the caller's phone
number or member number, written in one of several notations → open that member from the results (the
summary, audited and rate-limited) → the first timeline page (50 entries). Each step offers lookups on a
fixed schedule whatever the answers (open loop): lookup *i* is due at the step's start + *i* / rate, and its
latency runs from when it was due, not from when it was sent, so a server that falls behind shows its queue
in the figures instead of slowing the load down (no coordinated omission). A lookup fails on any status but
200, a transport error or timeout, or a search whose results do not hold the member.

The load is not the product, so it is kept cheap: HTTP/1.1 over raw asyncio streams (bench/console_wire.py),
keep-alive connections reused from a pool, every search request built before its step starts. httpx cost
8–10 ms of CPU per lookup, which on a 2-CPU machine was CPU taken from the server it measures.

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
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.console_wire import Connections, Refused, WireError, get_request, post_json_request  # noqa: E402
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


@dataclass(frozen=True)
class Caller:
    """One lookup to make, prepared before its step: the search request, the member it must find, the token."""

    search: bytes
    member_id: str
    authorization: str


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
    address = urlsplit(base_url)
    connections = Connections(address.hostname or "127.0.0.1", address.port or 80)
    warm_up = plan["warm_up"]
    await _step(connections, _callers(plan, rng, warm_up), warm_up["rate"])
    for step in plan["steps"]:
        callers = _callers(plan, rng, step)
        print(json.dumps({"starting": step["rate"]}), flush=True)
        began, cpu = time.monotonic(), time.process_time()
        lookups, lags = await _step(connections, callers, step["rate"])
        seconds = time.monotonic() - began
        summary = _summary(step["rate"], lookups, lags, seconds)
        print(json.dumps(summary | {"load_cpu": 100 * (time.process_time() - cpu) / seconds}), flush=True)
    connections.close()
    return 0


def _callers(plan: dict[str, Any], rng: random.Random, step: dict[str, float]) -> list[Caller]:
    """The step's lookups, each request to search built here rather than while the step is timed."""
    callers = []
    for _ in range(round(step["rate"] * step["seconds"])):
        member, token = rng.choice(plan["members"]), rng.choice(plan["tokens"])
        authorization = f"Bearer {token}"
        search = post_json_request(SEARCH, {"query": _query(member, rng)}, authorization)
        callers.append(Caller(search, member["member_id"], authorization))
    return callers


def _query(member: dict[str, str], rng: random.Random) -> str:
    """The member's phone or member number, as a caller might read it out and an operator type it."""
    if rng.random() < 0.5:
        return rng.choice(PHONE_NOTATIONS)(member["phone"])
    return rng.choice(NUMBER_NOTATIONS)(member["member_number"].replace("-", ""))


async def _step(connections: Connections, callers: list[Caller], rate: float) -> tuple[list[Lookup], list[float]]:
    """One lookup due every 1/rate seconds; returns them once all have ended, and how late each was sent."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1
    tasks, lags = [], []
    for i, caller in enumerate(callers):
        due = start + i / rate
        await asyncio.sleep(due - loop.time())
        lags.append(loop.time() - due)
        tasks.append(asyncio.create_task(_lookup(connections, caller, due)))
    return list(await asyncio.gather(*tasks)), lags


async def _lookup(connections: Connections, caller: Caller, due: float) -> Lookup:
    loop, lookup = asyncio.get_running_loop(), Lookup()
    try:
        async with asyncio.timeout(TIMEOUT_S):
            found = json.loads(await _timed(connections, lookup, "search", caller.search))["results"]
            if any(result["member_id"] == caller.member_id for result in found):
                opened = f"/api/v1/members/{caller.member_id}"
                await _timed(connections, lookup, "summary", get_request(opened, caller.authorization))
                timeline = get_request(f"{opened}/timeline?limit=50", caller.authorization)
                await _timed(connections, lookup, "timeline", timeline)
            else:
                lookup.error = "search missed the member"
    except Refused as refused:
        lookup.error = str(refused)
    except WireError as error:
        lookup.error = str(error).split(":")[0]  # the kind of failure, not every message
    except TimeoutError:
        lookup.error = "TimeoutError"
    lookup.latency = loop.time() - due
    return lookup


async def _timed(connections: Connections, lookup: Lookup, name: str, request: bytes) -> bytes:
    """The body of a 200 answer to ``request``, its seconds recorded; any other status raises ``Refused``."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    try:
        return await connections.exchange(request)
    except Refused as refused:
        raise Refused(f"{name} {refused}") from None
    finally:
        lookup.requests[name] = loop.time() - sent


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
