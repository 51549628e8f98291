"""Just enough HTTP/1.1 for the console load generator: pre-built requests over a pool of keep-alive connections.

The load generator shares the machine with the server it measures, so every millisecond of CPU it spends on a
request is one the server does not get. A general client (httpx: ≈ 3 ms of CPU a request here) does far more
than a benchmark needs; this module writes requests as bytes and reads answers with a ``Content-Length`` or
chunked body, nothing else (no redirects, TLS, cookies or compression).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

KEEP_ALIVE_S = 2.0  # reuse an idle connection only this long: uvicorn closes them after 5 s idle


class WireError(Exception):
    """The connection failed or the answer was not HTTP/1.1 as this module reads it."""


class Refused(Exception):
    """An answer with another status than 200."""


def get_request(target: str, authorization: str) -> bytes:
    """A GET of ``target`` with the ``Authorization`` header, as bytes to write."""
    return f"GET {target} HTTP/1.1\r\nhost: bench\r\nauthorization: {authorization}\r\n\r\n".encode()


def post_json_request(target: str, payload: Any, authorization: str) -> bytes:
    """A POST of ``payload`` as JSON to ``target`` with the ``Authorization`` header, as bytes to write."""
    body = json.dumps(payload).encode()
    head = (
        f"POST {target} HTTP/1.1\r\nhost: bench\r\nauthorization: {authorization}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Status, body and whether the connection may be reused, for one request."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = dict(_header(line) for line in head[:-4].split(b"\r\n")[1:])
        reusable = headers.get(b"connection", b"").lower() != b"close"
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await self._chunks()
        else:
            body, reusable = await self.reader.read(), False
        return status, body, reusable

    async def _chunks(self) -> bytes:
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append((await self.reader.readexactly(size + 2))[:-2])
        while await self.reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, then the empty line
            pass
        return b"".join(parts)

    def close(self) -> None:
        self.writer.close()


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip().lower(), value.strip()


class Connections:
    """Keep-alive connections to one server, opened as needed and reused while fresh."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[_Connection] = []

    async def exchange(self, request: bytes) -> bytes:
        """The body of the answer to ``request``; ``Refused`` for a status other than 200, ``WireError`` on failure."""
        connection = await self._acquire()
        try:
            status, body, reusable = await connection.exchange(request)
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as error:
            connection.close()
            raise WireError(f"{type(error).__name__}: {error}") from error
        except BaseException:  # cancelled mid-answer (the lookup's timeout): the connection is in an unknown state
            connection.close()
            raise
        if reusable:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        if status != 200:
            raise Refused(f"HTTP {status}")
        return body

    async def _acquire(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.idle_since < KEEP_ALIVE_S:
                return connection
            connection.close()
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as error:
            raise WireError(f"connect: {error}") from error
        return _Connection(reader, writer)

    def close(self) -> None:
        """Close every idle connection."""
        for connection in self._idle:
            connection.close()
        self._idle.clear()
