"""A fast OpenAI-compatible stub server for tests and benchmarks.

It speaks just enough raw HTTP/1.1 (keep-alive, Content-Length bodies) on ``127.0.0.1`` to
serve ``POST /v1/chat/completions``, ``POST /v1/embeddings`` and ``GET /v1/models``, from an
asyncio loop in a
background thread, so a client in the same process or in a subprocess can drive it at
thousands of requests per second.

By default a completion echoes the last user message (with ``logprobs: true`` in the
request, each word gets log-probability -0.1), and an embedding is a bag of the text's
words hashed into 16 dimensions. A ``behavior`` hook picks another
action per request::

    def behavior(index: int, body: dict) -> Action | None:
        return Status(429, retry_after="0.2") if index == 0 else None  # None: echo

    with StubServer(behavior=behavior) as stub:
        ...  # point a client at stub.base_url
        assert stub.stats().total == 2

Run it standalone with ``python tests/stub_server.py --delay-ms 5``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = [
    "Action",
    "Behavior",
    "CloseMidBody",
    "EmptyChoices",
    "Hang",
    "InvalidJson",
    "NullContent",
    "Received",
    "Reply",
    "SlowDrip",
    "Status",
    "StubServer",
    "StubStats",
    "ToolCalls",
    "sequence",
]


@dataclass(frozen=True)
class Reply:
    """A normal completion; ``text=None`` echoes the last user message."""

    text: str | None = None
    finish_reason: str = "stop"
    model: str | None = None
    usage: bool = True
    kind = "reply"


@dataclass(frozen=True)
class ToolCalls:
    """A completion that calls tools: ``calls`` are ``(name, arguments JSON)`` pairs; the
    content is ``text`` (None, as OpenAI sends for a reply that only calls tools)."""

    calls: tuple[tuple[str, str], ...]
    text: str | None = None
    kind = "tool_calls"


@dataclass(frozen=True)
class Status:
    """An error answer with this status code and optional retry headers."""

    code: int
    retry_after: str | None = None
    retry_after_ms: str | None = None
    message: str = "stub error"
    kind = "status"


@dataclass(frozen=True)
class Hang:
    """Answer nothing for ``seconds`` (past the client's timeout), then close."""

    seconds: float = 30.0
    kind = "hang"


@dataclass(frozen=True)
class CloseMidBody:
    """Send the headers and half of a normal body, then drop the connection."""

    kind = "close_mid_body"


@dataclass(frozen=True)
class InvalidJson:
    """Answer 200 with a JSON content type and a truncated JSON body."""

    body: bytes = b'{"id": "chatcmpl-stub", "object": "chat.completion", "choices": [{"mess'
    kind = "invalid_json"


@dataclass(frozen=True)
class EmptyChoices:
    """Answer 200 with ``"choices": []``."""

    kind = "empty_choices"


@dataclass(frozen=True)
class NullContent:
    """Answer 200 with ``"content": null`` in the first choice."""

    kind = "null_content"


@dataclass(frozen=True)
class SlowDrip:
    """Send a normal reply a few bytes at a time, ``chunk_delay`` seconds apart."""

    chunk_delay: float = 0.05
    chunk_size: int = 8
    kind = "slow_drip"


Action = (
    Reply
    | ToolCalls
    | Status
    | Hang
    | CloseMidBody
    | InvalidJson
    | EmptyChoices
    | NullContent
    | SlowDrip
)
#: Picks the action for the ``index``-th chat request (0-based, arrival order); None echoes.
Behavior = Callable[[int, dict[str, Any]], Action | None]


def sequence(*actions: Action | None) -> Behavior:
    """A behavior playing ``actions`` for the first requests, then echoing."""

    def behavior(index: int, body: dict[str, Any]) -> Action | None:
        return actions[index] if index < len(actions) else None

    return behavior


@dataclass(frozen=True)
class Received:
    """One chat request as the stub saw it."""

    index: int
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(frozen=True)
class StubStats:
    """Counters at one moment.

    Attributes:
        total: Chat completion requests received.
        by_kind: Requests per action kind (``reply``, ``status_429``, ``hang``...), plus
            ``models`` for ``GET /v1/models``.
        in_flight: Chat requests being answered now.
        max_in_flight: Most chat requests answered at once since start or reset.
        prompt_tokens: Prompt tokens of the usage in every completion sent whole (answers
            a client cannot use, such as empty choices, included): what a provider bills.
        completion_tokens: Completion tokens of that usage.
    """

    total: int
    by_kind: dict[str, int]
    in_flight: int
    max_in_flight: int
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    total: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    received: list[Received] = field(default_factory=list)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class StubServer:
    """An OpenAI-compatible server on ``127.0.0.1`` running in a background thread.

    Args:
        delay: Seconds every chat request waits before its action (a non-blocking sleep).
        behavior: Picks an action per request; may be replaced while the server runs.
        port: Port to bind; 0 picks a free one.
        record: Keep every request's headers and body (see :meth:`received`).
        tls: Serve HTTPS with this server context (:meth:`base_url` then says ``https``).
    """

    def __init__(
        self,
        *,
        delay: float = 0.0,
        behavior: Behavior | None = None,
        port: int = 0,
        record: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.delay = delay
        self.tls = tls
        self.behavior = behavior
        self.record = record
        self._requested_port = port
        self._counters = _Counters()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._ids = itertools.count(1)
        self.port = 0

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI client, ending in ``/v1``."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"

    def start(self) -> StubServer:
        """Bind and serve; returns once the port is open."""
        self._thread = threading.Thread(target=self._run, name="stub-openai", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError("stub server failed to start") from self._error
        return self

    def stop(self) -> None:
        """Stop serving, cancel pending answers and join the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stats(self) -> StubStats:
        """A snapshot of the counters."""
        c = self._counters
        with c.lock:
            return StubStats(
                c.total,
                dict(c.by_kind),
                c.in_flight,
                c.max_in_flight,
                c.prompt_tokens,
                c.completion_tokens,
            )

    def received(self) -> list[Received]:
        """Every chat request seen since start or reset, in arrival order."""
        with self._counters.lock:
            return list(self._counters.received)

    def reset(self) -> None:
        """Zero the counters, forget recorded requests and restart request indexes at 0."""
        c = self._counters
        with c.lock:
            c.total = 0
            c.max_in_flight = c.in_flight
            c.prompt_tokens = c.completion_tokens = 0
            c.by_kind.clear()
            c.received.clear()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # surfaced by start()
            self._error = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        handlers: set[asyncio.Task[None]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await self._connection(reader, writer)
            except asyncio.CancelledError:
                # Only stop() cancels handlers; asyncio 3.11 logs a cancelled
                # client_connected_cb task as an unhandled error, so end it quietly.
                pass
            finally:
                handlers.discard(task)

        server = await asyncio.start_server(
            on_connect, "127.0.0.1", self._requested_port, backlog=1024, ssl=self.tls
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            for task in list(handlers):
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                raw_body = await reader.readexactly(length) if length else b""
                keep_alive = headers.get("connection", "").lower() != "close"
                if not await self._route(method, path, headers, raw_body, writer):
                    return
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        raw_body: bytes,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one request; False when the connection must close."""
        route = path.split("?", 1)[0].rstrip("/")
        if method == "GET" and route == "/v1/models":
            self._count("models")
            models = {"object": "list", "data": [{"id": "stub", "object": "model"}]}
            await _send(writer, 200, _dumps(models))
            return True
        if method == "POST" and route == "/v1/chat/completions":
            return await self._chat(headers, raw_body, writer)
        if method == "POST" and route == "/v1/embeddings":
            self._count("embeddings")
            body = json.loads(raw_body or b"{}")
            texts = body.get("input") or []
            texts = [texts] if isinstance(texts, str) else texts
            data = [
                {"object": "embedding", "index": i, "embedding": _word_vector(str(t))}
                for i, t in enumerate(texts)
            ]
            answer = {"object": "list", "data": data, "model": body.get("model", "stub")}
            await _send(writer, 200, _dumps(answer))
            return True
        await _send(writer, 404, _dumps({"error": {"message": f"no route {method} {path}"}}))
        return True

    async def _chat(
        self, headers: dict[str, str], raw_body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        try:
            body = json.loads(raw_body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._count("malformed_request")
            await _send(writer, 400, _error_body("request body is not a JSON object", 400))
            return True
        c = self._counters
        with c.lock:
            index = c.total
            c.total += 1
            c.in_flight += 1
            c.max_in_flight = max(c.max_in_flight, c.in_flight)
            if self.record:
                c.received.append(Received(index, headers, body))
        try:
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            behavior = self.behavior
            action = (behavior(index, body) if behavior else None) or Reply()
            self._count(_kind(action))
            return await self._act(action, body, writer)
        finally:
            with c.lock:
                c.in_flight -= 1

    async def _act(
        self, action: Action, body: dict[str, Any], writer: asyncio.StreamWriter
    ) -> bool:
        if isinstance(action, Status):
            extra = []
            if action.retry_after is not None:
                extra.append(("Retry-After", action.retry_after))
            if action.retry_after_ms is not None:
                extra.append(("retry-after-ms", action.retry_after_ms))
            await _send(writer, action.code, _error_body(action.message, action.code), extra)
            return True
        if isinstance(action, Hang):
            await asyncio.sleep(action.seconds)
            return False
        if isinstance(action, InvalidJson):
            await _send(writer, 200, action.body)
            return True
        if isinstance(action, EmptyChoices):
            completion = self._completion(body, Reply(), choices=[])
            await _send(writer, 200, _dumps(completion))
            self._bill(completion)
            return True
        if isinstance(action, NullContent):
            completion = self._completion(body, Reply())
            completion["choices"][0]["message"]["content"] = None
            await _send(writer, 200, _dumps(completion))
            self._bill(completion)
            return True
        if isinstance(action, ToolCalls):
            completion = self._completion(body, Reply(text="", finish_reason="tool_calls"))
            message = completion["choices"][0]["message"]
            message["content"] = action.text
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
                for i, (n, a) in enumerate(action.calls)
            ]
            await _send(writer, 200, _dumps(completion))
            self._bill(completion)
            return True
        reply = action if isinstance(action, Reply) else Reply()
        completion = self._completion(body, reply)
        payload = _dumps(completion)
        if isinstance(action, CloseMidBody):
            writer.write(_head(200, len(payload)) + payload[: len(payload) // 2])
            await writer.drain()
            writer.transport.abort()
            return False
        if isinstance(action, SlowDrip):
            writer.write(_head(200, len(payload)))
            for start in range(0, len(payload), action.chunk_size):
                await asyncio.sleep(action.chunk_delay)
                writer.write(payload[start : start + action.chunk_size])
                await writer.drain()
            self._bill(completion)
            return True
        await _send(writer, 200, payload)
        self._bill(completion)
        return True

    def _bill(self, completion: dict[str, Any]) -> None:
        """Count the usage of a completion that was sent whole."""
        usage = completion.get("usage") or {}
        with self._counters.lock:
            self._counters.prompt_tokens += usage.get("prompt_tokens", 0)
            self._counters.completion_tokens += usage.get("completion_tokens", 0)

    def _completion(
        self, body: dict[str, Any], reply: Reply, choices: list[Any] | None = None
    ) -> dict[str, Any]:
        messages = body.get("messages") or []
        text = reply.text if reply.text is not None else _last_user_text(messages)
        completion: dict[str, Any] = {
            "id": f"chatcmpl-stub-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or body.get("model") or "stub",
            "choices": choices
            if choices is not None
            else [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reply.finish_reason,
                }
            ],
        }
        if body.get("logprobs") and completion["choices"]:
            completion["choices"][0]["logprobs"] = {
                "content": [{"token": w, "logprob": -0.1} for w in text.split()]
            }
        if reply.usage:
            prompt_words = sum(len(_text_of(m).split()) for m in messages if isinstance(m, dict))
            completion_words = len(text.split())
            completion["usage"] = {
                "prompt_tokens": prompt_words,
                "completion_tokens": completion_words,
                "total_tokens": prompt_words + completion_words,
            }
        return completion

    def _count(self, kind: str) -> None:
        with self._counters.lock:
            self._counters.by_kind[kind] += 1


def _kind(action: Action) -> str:
    return f"status_{action.code}" if isinstance(action, Status) else action.kind


def _word_vector(text: str) -> list[float]:
    vector = [0.0] * 16
    for word in text.lower().split():
        vector[sum(word.encode()) % 16] += 1.0
    return vector


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _last_user_text(messages: Iterable[Any]) -> str:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return _text_of(users[-1]) if users else ""


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _error_body(message: str, code: int) -> bytes:
    kind = "rate_limit_exceeded" if code == 429 else "stub_error"
    return _dumps({"error": {"message": message, "type": kind, "code": code}})


def _head(status: int, length: int, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        "Connection: keep-alive",
        *(f"{name}: {value}" for name, value in extra),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    payload: bytes,
    extra: Iterable[tuple[str, str]] = (),
) -> None:
    writer.write(_head(status, len(payload), extra) + payload)
    await writer.drain()


def main() -> None:
    """Serve until SIGINT or SIGTERM, printing the base URL and, on exit, the counters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with StubServer(delay=args.delay_ms / 1000.0, port=args.port, record=False) as stub:
        print(stub.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        print(stub.stats(), flush=True)


if __name__ == "__main__":
    main()
