"""Run the Shopify sandbox in the foreground: ``python -m connectors.shopify.sandbox [--port 8766]``."""

from __future__ import annotations

import argparse

import uvicorn

from connectors.shopify.sandbox.app import create_app
from connectors.shopify.sandbox.state import SandboxState


def main() -> None:
    """Serve a fresh sandbox on loopback until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--orders", type=int, default=83)
    parser.add_argument("--customers", type=int, default=57)
    args = parser.parse_args()
    state = SandboxState(seed=args.seed, orders=args.orders, customers=args.customers)
    state.base_url = f"http://127.0.0.1:{args.port}"
    print(f"access token: {state.access_token}  webhook secret: {state.webhook_secret}")
    uvicorn.run(create_app(state), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
