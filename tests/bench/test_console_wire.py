"""The console bench's HTTP/1.1 client reads what uvicorn sends and reuses only connections it may reuse.

A real server on loopback (asyncio streams) answers with the framings and statuses the client must handle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bench.console_wire import Connections, Refused, WireError, get_request, post_json_request

ANSWERS = {
    b"/length": b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello",
    b"/chunked": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n",
    b"/refused": b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 2\r\n\r\n{}",
    b"/close": b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
    b"/cut": b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
}


async def _with_server(scenario: Callable[[Connections, list[bytes], list[int]], Awaitable[None]]) -> None:
    """Run ``scenario`` against a loopback server that records each request line and counts connections."""
    lines: list[bytes] = []
    opened: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(1)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines.append(head.split(b"\r\n", 1)[0])
                length = [v for k, _, v in (h.partition(b": ") for h in head.split(b"\r\n")) if k == b"content-length"]
                if length:
                    await reader.readexactly(int(length[0]))
                target = head.split(b" ")[1]
                writer.write(ANSWERS[target])
                await writer.drain()
                if target in (b"/close", b"/cut"):
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connections = Connections("127.0.0.1", port)
    try:
        await scenario(connections, lines, opened)
    finally:
        connections.close()
        server.close()
        await server.wait_closed()


def test_bodies_with_a_length_or_in_chunks_are_read_on_one_kept_alive_connection():
    async def scenario(connections: Connections, lines: list[bytes], opened: list[int]) -> None:
        assert await connections.exchange(get_request("/length", "Bearer t")) == b"hello"
        assert await connections.exchange(get_request("/chunked", "Bearer t")) == b"hello"
        assert await connections.exchange(post_json_request("/length", {"query": "０９０"}, "Bearer t")) == b"hello"
        assert lines == [b"GET /length HTTP/1.1", b"GET /chunked HTTP/1.1", b"POST /length HTTP/1.1"]
        assert len(opened) == 1

    asyncio.run(_with_server(scenario))


def test_a_status_other_than_200_is_refused_and_the_connection_kept():
    async def scenario(connections: Connections, lines: list[bytes], opened: list[int]) -> None:
        with pytest.raises(Refused, match="HTTP 429"):
            await connections.exchange(get_request("/refused", "Bearer t"))
        assert await connections.exchange(get_request("/length", "Bearer t")) == b"hello"
        assert len(opened) == 1

    asyncio.run(_with_server(scenario))


def test_a_connection_the_server_closes_is_not_reused():
    async def scenario(connections: Connections, lines: list[bytes], opened: list[int]) -> None:
        assert await connections.exchange(get_request("/close", "Bearer t")) == b"ok"
        assert await connections.exchange(get_request("/length", "Bearer t")) == b"hello"
        assert len(opened) == 2

    asyncio.run(_with_server(scenario))


def test_an_answer_cut_short_is_a_wire_error():
    async def scenario(connections: Connections, lines: list[bytes], opened: list[int]) -> None:
        with pytest.raises(WireError, match="IncompleteReadError"):
            await connections.exchange(get_request("/cut", "Bearer t"))

    asyncio.run(_with_server(scenario))
