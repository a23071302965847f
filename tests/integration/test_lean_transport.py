"""The lean HTTP/1.1 transport under the real ``openai`` client, against raw local servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from promptsuite.errors import TransportError
from promptsuite.models import GenerateRequest, Message, ModelSpec
from promptsuite.models.openai._client import http_client
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
    return json.loads(await reader.readexactly(length)) if head else None


async def serve(handler: Handler, calls: int) -> tuple[list[int], list[str]]:
    """Run ``calls`` requests through the provider against ``handler``; the connection
    numbers each request arrived on, and the answers' texts (or errors)."""
    seen: list[int] = []
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
    port = server.sockets[0].getsockname()[1]
    options = (
        ("backoff_base", 0.01),
        ("base_url", f"http://127.0.0.1:{port}/v1"),
        ("max_retries", 0),
    )
    provider = OpenAIProvider(ModelSpec("openai", "raw", options=options))
    texts = []
    try:
        for i in range(calls):
            try:
                generation = await provider.generate(GenerateRequest((Message("user", f"m{i}"),)))
                texts.append(generation.text)
            except TransportError as exc:
                texts.append(f"error: {exc}")
    finally:
        await provider.aclose()
        server.close()
        await server.wait_closed()
    return seen, texts


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
