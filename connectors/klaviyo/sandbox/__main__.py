"""Run the Klaviyo sandbox in the foreground: ``python -m connectors.klaviyo.sandbox [--port 8767]``."""

from __future__ import annotations

import argparse

import uvicorn

from connectors.klaviyo.sandbox.app import create_app
from connectors.klaviyo.sandbox.state import SandboxState


def main() -> None:
    """Serve a fresh sandbox on loopback until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profiles", type=int, default=57)
    parser.add_argument("--events", type=int, default=43)
    args = parser.parse_args()
    state = SandboxState(profiles=args.profiles, events=args.events, seed=args.seed)
    state.base_url = f"http://127.0.0.1:{args.port}"
    print(f"private API key: {state.api_key}  (send it as 'Authorization: Klaviyo-API-Key <key>' with a revision)")
    uvicorn.run(create_app(state), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
