"""Serving an ASGI app with a real uvicorn on a free loopback port, in a thread, for the length of a test."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI

from hub.cli.web import TRUSTED_PROXIES, server_config, trusted_proxy_list

STARTUP_TIMEOUT = 10.0  # seconds for uvicorn to start serving or to shut down


class _SignallingServer(uvicorn.Server):
    """A uvicorn server that sets an event once it is serving, so the test waits on it instead of polling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.serving = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.serving.set()


@contextmanager
def served(app: FastAPI, *, trusted_proxies: str = TRUSTED_PROXIES) -> Iterator[str]:
    """Serve ``app`` as ``hub serve`` does on a free loopback port in a background thread; yields its base URL."""
    server = _SignallingServer(server_config(app, "127.0.0.1", 0, trusted_proxy_list(trusted_proxies)))
    thread = threading.Thread(target=server.run, name="console-under-test", daemon=True)
    thread.start()
    try:
        if not server.serving.wait(STARTUP_TIMEOUT):
            pytest.fail(f"uvicorn did not start serving within {STARTUP_TIMEOUT:.0f} s")
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT)
