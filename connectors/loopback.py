"""Serving ASGI apps on loopback from a background thread, for the sandboxes of every connector.

``LoopbackServer`` serves one app on a free port; ``SharedHost`` serves many sandboxes on one such server,
each under its own path prefix.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

_START_TIMEOUT_S = 10.0


class LoopbackServer:
    """``app`` served by uvicorn on ``127.0.0.1`` at a free port, from a daemon thread; started at once."""

    def __init__(self, app: ASGIApp) -> None:
        # proto must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP,
        # and without it every response waits ~40 ms for the client's delayed ACK (Nagle).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(
            app, log_config=None, log_level="warning", access_log=False, lifespan="off",
            loop="asyncio", http="h11", timeout_graceful_shutdown=1,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"loopback:{port}", daemon=True
        )
        self._thread.start()
        self._wait_until_started()

    def _wait_until_started(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._socket.close()
                raise RuntimeError("loopback server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT_S)
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class SharedHost:
    """One loopback server for the whole process, hosting every open sandbox under its own path prefix.

    Starting and stopping uvicorn costs about 0.2 s (its shutdown sleeps twice), too much for a fresh
    sandbox per test; mounting an app costs nothing. The prefix (``/{label}-N``) is stripped, as by a reverse
    proxy, so each sandbox sees itself at ``/``; a path under no mounted sandbox gets ``not_found``.
    """

    def __init__(self, label: str, not_found: ASGIApp) -> None:
        self._label = label
        self._not_found = not_found
        self._apps: dict[str, ASGIApp] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None

    def mount(self, app: ASGIApp) -> tuple[str, str]:
        """Serve ``app``; returns its prefix and its base URL."""
        with self._lock:
            if self._server is None:  # a daemon thread, left running until the process exits
                self._server = LoopbackServer(self)
            prefix = f"/{self._label}-{next(self._numbers)}"
            self._apps[prefix] = app
            return prefix, self._server.url + prefix

    def unmount(self, prefix: str) -> None:
        """Stop routing to the app under ``prefix``; its later requests get ``not_found``."""
        with self._lock:
            self._apps.pop(prefix, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route a request to the sandbox its prefix names."""
        prefix, _, rest = scope.get("path", "").partition("/")[2].partition("/")
        app = self._apps.get(f"/{prefix}")
        if scope["type"] != "http" or app is None:
            await self._not_found(scope, receive, send)
            return
        await app({**scope, "path": f"/{rest}", "raw_path": f"/{rest}".encode()}, receive, send)


class MountedSandbox:
    """A sandbox emulator's app mounted on a shared loopback host at ``url``, usable as a context manager.

    ``stop()`` (or leaving the ``with`` block) takes it off the air; subclasses release what their state holds
    in ``_release``.
    """

    def __init__(self, host: SharedHost, app: ASGIApp) -> None:
        self._host = host
        self._prefix, self.url = host.mount(app)

    def stop(self) -> None:
        """Release hanging requests and whatever the emulator holds, then stop serving; safe to call twice."""
        self._release()
        self._host.unmount(self._prefix)

    def _release(self) -> None:
        """Let go of what the emulator's state holds (hanging requests, senders); nothing by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
