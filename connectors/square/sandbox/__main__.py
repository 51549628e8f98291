"""Run the Square sandbox in the foreground: ``python -m connectors.square.sandbox [--port 8767]``."""

from __future__ import annotations

import argparse

import uvicorn

from connectors.square.sandbox.app import create_app
from connectors.square.sandbox.state import SandboxState


def main() -> None:
    """Serve a fresh sandbox on loopback until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--orders", type=int, default=90)
    parser.add_argument("--people", type=int, default=57, help="town people shared with the other sandboxes")
    parser.add_argument("--locations", type=int, default=12)
    parser.add_argument("--search-lag", type=float, default=1.0, help="seconds a customer edit stays out of searches")
    parser.add_argument("--notification-url", default=None, help="POST signed notifications of edits here")
    args = parser.parse_args()
    state = SandboxState(
        customers=args.customers, orders=args.orders, people=args.people, locations=args.locations, seed=args.seed,
        search_lag_s=args.search_lag,
    )  # fmt: skip
    if args.notification_url:
        state.deliver_webhooks_to(args.notification_url)
    print(f"access token: {state.access_token}  signature key: {state.signature_key}")
    print(f"notification URL: {state.notification_url}")
    uvicorn.run(create_app(state), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
