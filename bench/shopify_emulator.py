"""The Shopify sandbox of the sync benchmark, in a process of its own so that its work is not the hub's.

    .venv/bin/python bench/shopify_emulator.py --orders 100000 --customers 20000 [--restore-rate 100]

Prints one JSON line (``url``, ``token``, ``secret``), then answers commands on stdin, one JSON line each:
``touch N`` (the N oldest orders are edited now), ``stats`` (requests answered, seconds spent answering and
exporting) and ``quit``. The cost bucket is the sandbox's default unless ``--restore-rate``/``--maximum`` say.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.shopify.sandbox import SandboxServer  # noqa: E402
from connectors.shopify.sandbox.state import SandboxState  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--restore-rate", type=float, default=SandboxState.restore_rate)
    parser.add_argument("--maximum", type=float, default=SandboxState.maximum_available)
    args = parser.parse_args()
    options = {"orders": args.orders, "customers": args.customers, "restore_rate": args.restore_rate,
               "maximum_available": args.maximum}  # fmt: skip
    with SandboxServer(**options) as shop:
        state = shop.state
        _say({"url": shop.url, "token": shop.access_token, "secret": state.webhook_secret})
        for line in sys.stdin:
            command, *rest = line.split()
            if command == "touch":
                ids = state.record_ids("orders")[: int(rest[0])]
                for order_id in ids:
                    state.touch("orders", order_id)
                _say({"touched": len(ids)})
            elif command == "stats":
                with state.lock:
                    requests = len(state.requests)
                _say({"requests": requests, "busy_s": state.busy_seconds()})
            elif command == "quit":
                break
    return 0


def _say(message: dict[str, object]) -> None:
    print(json.dumps(message), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
