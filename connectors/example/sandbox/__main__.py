"""Run the sandbox in the foreground: ``python -m connectors.example.sandbox [--port 8765]``."""

from __future__ import annotations

import argparse

import uvicorn

from connectors.example.sandbox.app import create_app
from connectors.example.sandbox.state import SandboxState


def main() -> None:
    """Serve a fresh sandbox on loopback until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    state = SandboxState(seed=args.seed)
    print(f"token: {state.token}  webhook secret: {state.webhook_secret}")
    uvicorn.run(create_app(state), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
