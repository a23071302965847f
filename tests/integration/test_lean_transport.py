"""The lean HTTP/1.1 transport, alone and under the real ``openai`` client, against raw
servers on 127.0.0.1: bodies, pooling, its size cap, its timeouts, and no request sent
twice unless it is safe to repeat."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from promptsuite.errors import TransportError
from promptsuite.models import GenerateRequest, Message, ModelSpec
from promptsuite.models.openai import _transport
from promptsuite.models.openai._client import http_client
from promptsuite.models.openai._transport import IDEMPOTENT, LeanTransport, httpx
from promptsuite.models.openai.provider import OpenAIProvider

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


def completion(text: str) -> bytes:
    return json.dumps(
        {
            "model": "raw",
            "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }
    ).encode()


async def read_request(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    body = await reader.readexactly(length)
    return json.loads(body) if body else None  # a GET has no body


@asynccontextmanager
async def raw_server(handler: Handler, seen: list[int]) -> AsyncIterator[int]:
    """A server on 127.0.0.1 that hands each request to ``handler`` (which answers it, or
    returns False to close the connection) and appends to ``seen`` the number of the
    connection it arrived on; yields its port."""
    connections = 0

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = connections
        try:
            while not reader.at_eof():
                try:
                    await read_request(reader)
                except asyncio.IncompleteReadError:
                    break
                seen.append(number)
                if not await handler(reader, writer, len(seen)):
                    break
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def serve(handler: Handler, calls: int, retries: int = 0) -> tuple[list[int], list[str]]:
    """Run ``calls`` requests through the provider against ``handler``; the connection
    numbers each request arrived on, and the answers' texts (or errors)."""
    seen: list[int] = []
    texts = []
    async with raw_server(handler, seen) as port:
        options = (
            ("backoff_base", 0.01),
            ("base_url", f"http://127.0.0.1:{port}/v1"),
            ("max_retries", retries),
        )
        provider = OpenAIProvider(ModelSpec("openai", "raw", options=options))
        try:
            for i in range(calls):
                try:
                    generation = await provider.generate(
                        GenerateRequest((Message("user", f"m{i}"),))
                    )
                    texts.append(generation.text)
                except TransportError as exc:
                    texts.append(f"error: {exc}")
        finally:
            await provider.aclose()
    return seen, texts


def timeouts(connect: float = 30.0, write: float = 30.0, read: float = 30.0) -> dict[str, Any]:
    """The ``timeout`` extension, as httpx's client sets it."""
    return {"timeout": {"connect": connect, "write": write, "read": read, "pool": 30.0}}


async def exchange(
    transport: LeanTransport, port: int, method: str = "POST", **extensions: Any
) -> bytes:
    """One request straight through ``transport``; the response's body."""
    request = httpx.Request(
        method,
        f"http://127.0.0.1:{port}/v1/chat/completions",
        content=b'{"model": "raw"}' if method == "POST" else b"",
        extensions=timeouts() | extensions,
    )
    response = await transport.handle_async_request(request)
    return await response.aread()


def answer(body: bytes, *, chunked: bool = False, close: bool = False) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if close:
        head += b"Connection: close\r\n"
    if chunked:
        middle = len(body) // 2
        parts = [body[:middle], body[middle:]]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + framed
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_keep_alive_reuses_one_connection() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(answer(completion(f"answer {index}")))
        await writer.drain()
        return True

    seen, texts = asyncio.run(serve(handler, 3))

    assert texts == ["answer 1", "answer 2", "answer 3"]
    assert seen == [1, 1, 1]


def test_chunked_and_close_delimited_bodies() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        if index == 1:
            writer.write(answer(completion("chunked"), chunked=True))
            await writer.drain()
            return True
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        writer.write(completion("to the end"))
        await writer.drain()
        return False  # the body ends when the connection does

    seen, texts = asyncio.run(serve(handler, 3))

    assert texts == ["chunked", "to the end", "to the end"]
    assert seen == [1, 1, 2]


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(answer(completion(f"answer {index}")))
        await writer.drain()
        return False  # closes without saying so: the pooled connection goes stale

    seen, texts = asyncio.run(serve(handler, 2))

    assert texts == ["answer 1", "answer 2"]
    assert seen == [1, 2]


def test_a_garbled_status_line_is_one_transport_error() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"SPDY/9 what\r\n\r\n")
        await writer.drain()
        return False

    _, (text,) = asyncio.run(serve(handler, 1))

    assert text.startswith("error: openai model 'raw' at http://127.0.0.1:")
    assert "connection failed" in text and "after 1 attempt(s)" in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("base_url", "transport", "lean"),
    [
        ("http://127.0.0.1:8080/v1", "auto", True),
        ("http://127.0.0.1:8080/v1", "httpx", False),
        ("https://api.openai.com/v1", "auto", False),
    ],
)
def test_only_plain_http_endpoints_get_the_lean_transport(
    base_url: str, transport: str, lean: bool
) -> None:
    client = http_client(base_url, 5.0, transport)
    assert (client is not None) == lean
    if client is not None:
        asyncio.run(client.aclose())


def test_a_body_over_the_cap_is_refused_once_naming_the_cap() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        # Declares one byte more than the cap: refused before a byte of the body is read.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{" % (64 * 2**20 + 1))
        await writer.drain()
        return True

    seen, (text,) = asyncio.run(serve(handler, 1, retries=3))

    assert text.startswith("error: openai model 'raw' at http://127.0.0.1:")
    assert text.endswith(
        "response refused: the response body is over 64 MiB, the lean transport's cap"
    )
    assert seen == [1]  # not retried: the same answer would be as large


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "to-the-end"])
def test_bodies_without_a_length_are_capped_too(
    chunked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_transport, "MAX_RESPONSE_BYTES", 1000)

    async def handler(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        body = completion("x" * 2000)
        if chunked:
            writer.write(answer(body, chunked=True))
        else:
            writer.write(b"HTTP/1.0 200 OK\r\n\r\n" + body)
        await writer.drain()
        return chunked

    seen, (text,) = asyncio.run(serve(handler, 1, retries=2))

    assert text.endswith(
        "response refused: the response body is over 1000 bytes, the lean transport's cap"
    )
    assert seen == [1]


@pytest.mark.parametrize(
    ("deadline_s", "read_s"),
    [(0.5, 30.0), (None, 0.5)],
    ids=["the exchange's deadline", "the read timeout"],
)
def test_a_server_that_never_answers_times_out(deadline_s: float | None, read_s: float) -> None:
    async def silent(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n")  # then nothing more
        await writer.drain()
        await asyncio.sleep(10)
        return False

    async def run() -> float:
        transport = LeanTransport(deadline_s=deadline_s)
        async with raw_server(silent, []) as port:
            started = time.perf_counter()
            with pytest.raises(httpx.ReadTimeout):
                await exchange(transport, port, **timeouts(read=read_s))
            return time.perf_counter() - started

    assert 0.45 < asyncio.run(run()) < 2.0


def test_the_deadline_bounds_the_whole_exchange() -> None:
    # Each byte comes within the read timeout; the exchange as a whole takes too long.
    async def dripping(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(20):
            await asyncio.sleep(0.1)
            writer.write(b"X-Slow: yes\r\n")
            await writer.drain()
        return False

    async def run() -> float:
        transport = LeanTransport(deadline_s=0.6)
        async with raw_server(dripping, []) as port:
            started = time.perf_counter()
            with pytest.raises(httpx.ReadTimeout):
                await exchange(transport, port, **timeouts(read=0.5))
            return time.perf_counter() - started

    assert 0.55 < asyncio.run(run()) < 1.5


def test_a_server_that_reads_nothing_hits_the_write_timeout() -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.sleep(10)
        finally:
            writer.close()

    async def run() -> float:
        server = await asyncio.start_server(deaf, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        request = httpx.Request(
            "POST",
            f"http://127.0.0.1:{port}/v1/embeddings",
            content=b"x" * 2**26,  # more than the sockets' buffers hold
            extensions=timeouts(write=0.5),
        )
        started = time.perf_counter()
        try:
            with pytest.raises(httpx.WriteTimeout):
                await LeanTransport(deadline_s=30.0).handle_async_request(request)
            return time.perf_counter() - started
        finally:
            server.close()

    assert 0.45 < asyncio.run(run()) < 2.0


def test_a_post_the_server_took_on_a_reused_connection_is_sent_once() -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        if index == 1:
            writer.write(answer(completion("answer 1")))
            await writer.drain()
            return True
        return False  # took the second request, then closed without a word

    seen, texts = asyncio.run(serve(handler, 2))

    assert seen == [1, 1]  # exactly one copy of the second request, on the reused connection
    assert texts[0] == "answer 1"
    assert texts[1].startswith("error: openai model 'raw' at http://127.0.0.1:")
    assert "connection failed (ReadError: " in texts[1] and "after 1 attempt(s)" in texts[1]


@pytest.mark.parametrize(
    ("method", "extensions", "repeated"),
    [
        ("POST", {}, False),
        ("POST", {IDEMPOTENT: True}, True),
        ("GET", {}, True),
    ],
    ids=["post", "post marked idempotent", "get"],
)
def test_only_a_request_safe_to_repeat_is_sent_again(
    method: str, extensions: dict[str, Any], repeated: bool
) -> None:
    async def handler(reader: Any, writer: asyncio.StreamWriter, index: int) -> bool:
        if index == 2:
            return False  # the reused connection: took the request, closed without a word
        writer.write(answer(completion(f"answer {index}")))
        await writer.drain()
        return True

    async def run() -> tuple[list[int], bool]:
        seen: list[int] = []
        transport = LeanTransport()
        async with raw_server(handler, seen) as port:
            await exchange(transport, port, method, **extensions)
            try:
                second = await exchange(transport, port, method, **extensions)
            except httpx.ReadError:
                return seen, False
            finally:
                await transport.aclose()
            assert json.loads(second)["choices"][0]["message"]["content"] == "answer 3"
            return seen, True

    seen, answered = asyncio.run(run())

    assert answered is repeated
    assert seen == ([1, 1, 2] if repeated else [1, 1])


@contextmanager
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    yield port


@contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose listener never accepts and whose backlog is full: connecting hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            yield port
        finally:
            for filler in fillers:
                filler.close()


@pytest.mark.parametrize(
    ("where", "error"),
    [(closed_port, httpx.ConnectError), (full_backlog, httpx.ConnectTimeout)],
    ids=["closed port", "no answer to connect"],
)
def test_connecting_fails_within_the_connect_timeout(
    where: Callable[[], Any], error: type[Exception]
) -> None:
    async def run(port: int) -> float:
        transport = LeanTransport(deadline_s=30.0)
        started = time.perf_counter()
        with pytest.raises(error):
            await exchange(transport, port, **timeouts(connect=0.5))
        return time.perf_counter() - started

    with where() as port:
        assert asyncio.run(run(port)) < 1.5
