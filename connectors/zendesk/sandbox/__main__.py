"""Run the sandbox in the foreground: ``python -m connectors.zendesk.sandbox [--port 8766] [--seed 2026]``."""

from __future__ import annotations

import argparse

import uvicorn

from connectors.zendesk.sandbox.app import create_app
from connectors.zendesk.sandbox.state import SandboxState


def main() -> None:
    """Serve a fresh sandbox on loopback until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--users", type=int, default=60, help="end-users, drawn from the town's persons")
    parser.add_argument("--tickets", type=int, default=120)
    parser.add_argument("--people", type=int, default=200, help="the town's persons 1..N the users come from")
    parser.add_argument("--webhook-url", help="send signed events for every change to this URL")
    args = parser.parse_args()
    state = SandboxState(users=args.users, tickets=args.tickets, people=args.people, seed=args.seed)
    if args.webhook_url:
        state.subscribe(args.webhook_url)
    print(f"email: {state.agent_email}  api token: {state.api_token}  oauth token: {state.oauth_token}")
    print(f"webhook signing secret: {state.webhook_secret}")
    uvicorn.run(create_app(state), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
