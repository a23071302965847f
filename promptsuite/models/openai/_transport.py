"""A lean HTTP/1.1 transport for the ``openai`` client's plain-HTTP endpoints.

The ``openai`` client sends through ``httpx`` (``httpx2`` since openai 3), whose default
transport (``httpcore`` and the ``h11`` state machine) costs about as much CPU per request as
a local server takes to answer. For ``http://`` endpoints (Ollama, vLLM, llama.cpp, a stub
on 127.0.0.1) this transport does the same exchange with asyncio streams: keep-alive
connections reused from a pool, ``Content-Length`` or chunked bodies, nothing else.
``https://`` endpoints (OpenAI itself) keep httpx's own transport, with its TLS, proxies
and HTTP/2 handling.

Limits, so that a server cannot hold or flood a run:

- **Size.** A response body over :data:`MAX_RESPONSE_BYTES` is refused
  (:class:`ResponseTooLarge`, which names the cap); the provider reports it as a transport
  error and does not retry it.
- **Time.** The request's ``timeout`` extension (httpx's ``connect``, ``read``, ``write``
  and ``pool``, which the client sets) bounds opening a connection (connect), sending the
  request (write) and each wait for the next part of the response (read, counted again
  from each read that completes); ``deadline_s`` (the provider's attempt timeout) bounds
  the whole exchange, so no phase waits past it. Connections are not limited in number,
  so no request waits for one (``pool``). One timer per exchange keeps all of it
  (:class:`_Clock`).
- **Once.** A request is written once: a failure after that may mean the server has it,
  so it is an error for the caller's retries, which count their attempts. Only a request
  safe to repeat (an idempotent method, or the extension :data:`IDEMPOTENT`) that fails on
  a reused connection before any byte of an answer is sent once more. A pooled connection
  the server closed while idle is found before writing (end of stream, or data to read on
  an idle connection) and replaced.

Failures are raised as the ``httpx`` exceptions the ``openai`` client maps onto its own
(``ConnectError``, ``ConnectTimeout``, ``WriteError``, ``WriteTimeout``, ``ReadError``,
``ReadTimeout``, ``RemoteProtocolError``), so the provider sees the same errors through
either transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import select

try:  # the HTTP library under the installed ``openai`` client (renamed in openai 3)
    import httpx2 as httpx
except ImportError:  # pragma: no cover - older openai releases
    import httpx  # type: ignore[no-redef]

__all__ = ["IDEMPOTENT", "MAX_RESPONSE_BYTES", "LeanTransport", "ResponseTooLarge", "httpx"]

#: The largest response body accepted (a chat completion is a few kB; an embeddings answer
#: for a large batch a few MB).
MAX_RESPONSE_BYTES = 64 * 2**20
#: The request extension that marks a request safe to send twice
#: (``extensions={IDEMPOTENT: True}``).
IDEMPOTENT = "promptsuite_idempotent"
#: Methods whose requests may be repeated (RFC 9110, 9.2.2).
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
#: Longest status line or header line accepted, and most header lines.
_MAX_LINE = 65_536
_MAX_HEADERS = 200
#: A connection idle in the pool longer than this is closed rather than reused.
_IDLE_S = 30.0
#: Size of each read of a body that runs to the end of the connection.
_PIECE = 65_536
#: The phases of an exchange (named as httpx names their timeouts), with the error and the
#: message of a timeout in each.
_TIMEOUTS: dict[str, tuple[type[httpx.TimeoutException], str]] = {
    "connect": (httpx.ConnectTimeout, "timed out connecting"),
    "write": (httpx.WriteTimeout, "timed out sending the request"),
    "read": (httpx.ReadTimeout, "timed out reading the response"),
}


class ResponseTooLarge(httpx.TransportError):
    """The response body is larger than :data:`MAX_RESPONSE_BYTES`."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def still_open(self) -> bool:
        """Whether an idle connection can carry a request: the server has not closed it,
        nor sent anything unasked (which would be read as the next answer)."""
        if self.reader.at_eof() or self.writer.is_closing():
            return False
        sock = self.writer.get_extra_info("socket")
        poll = getattr(select, "poll", None)
        if sock is None or poll is None:
            return True
        poller = poll()
        poller.register(sock.fileno(), select.POLLIN)
        return not poller.poll(0)  # readable while idle: an end of stream, or stray bytes

    def close(self) -> None:
        """Close at once: the unsent rest of an abandoned request is dropped, not flushed."""
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


class _Clock:
    """One exchange's time limits, kept with a single timer.

    The exchange runs in one ``asyncio.timeout`` whose deadline this clock sets: a phase
    (connect, write, read) may last its own limit from its start or, while reading, from
    the last read; nothing may last past the deadline of the whole exchange. A timer is
    armed once, for the earliest moment the limits allow; when it fires after the
    exchange made progress it is armed again for the new limit, and otherwise it expires
    the timeout. A fast exchange so costs one timer, not one per read.
    """

    def __init__(self, request: httpx.Request, deadline_s: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        timeouts = request.extensions.get("timeout") or {}
        self._limits = {phase: _seconds(timeouts.get(phase)) for phase in _TIMEOUTS}
        self._deadline = None if deadline_s is None else self._loop.time() + deadline_s
        self.phase = "connect"
        self._since = self._loop.time()
        self._timeout: asyncio.Timeout | None = None
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, timeout: asyncio.Timeout) -> None:
        """Expire ``timeout`` (entered, without a deadline) when a limit is reached."""
        self._timeout = timeout
        self._schedule()

    def start(self, phase: str) -> None:
        """A phase of the exchange begins now."""
        self.phase = phase
        self.progress()
        if self._timer is not None and self._due_now() < self._timer.when():
            self._timer.cancel()
            self._timer = None
        self._schedule()

    def progress(self) -> None:
        """The phase made progress (a read completed): its limit counts from now."""
        self._since = self._loop.time()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _due(self) -> float | None:
        limit = self._limits[self.phase]
        due = None if limit is None else self._since + limit
        if self._deadline is not None:
            due = self._deadline if due is None else min(due, self._deadline)
        return due

    def _due_now(self) -> float:
        due = self._due()
        return float("inf") if due is None else due

    def _schedule(self) -> None:
        due = self._due()
        if self._timer is None and due is not None:
            self._timer = self._loop.call_at(due, self._check)

    def _check(self) -> None:
        self._timer = None
        if self._timeout is None:
            return
        if self._loop.time() >= self._due_now():
            self._timeout.reschedule(self._loop.time())
        else:
            self._schedule()


class _Reader:
    """The response side of a connection: each read counts as progress of the read phase."""

    def __init__(self, reader: asyncio.StreamReader, clock: _Clock) -> None:
        self._reader = reader
        self._clock = clock

    async def readline(self) -> bytes:
        line = await self._reader.readline()
        self._clock.progress()
        return line

    async def readexactly(self, size: int) -> bytes:
        data = await self._reader.readexactly(size)
        self._clock.progress()
        return data

    async def read(self, size: int) -> bytes:
        data = await self._reader.read(size)
        self._clock.progress()
        return data


class LeanTransport(httpx.AsyncBaseTransport):
    """Plain HTTP/1.1 over pooled keep-alive connections, for one host.

    Args:
        max_idle: Idle connections kept for reuse at most.
        deadline_s: The longest one exchange may take, end to end (None: only the
            request's own timeouts bound it).
    """

    def __init__(self, max_idle: int = 64, deadline_s: float | None = None) -> None:
        self.max_idle = max_idle
        self.deadline_s = deadline_s
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"the lean transport speaks http://, not {url.scheme}")
        body = await request.aread()
        raw = self._head(request, body) + body
        clock = _Clock(request, self.deadline_s)
        try:
            async with asyncio.timeout(None) as timeout:
                clock.arm(timeout)
                return await self._exchange(request, raw, clock)
        except TimeoutError:
            error, message = _TIMEOUTS[clock.phase]
            raise error(message, request=request) from None
        finally:
            clock.disarm()

    async def _exchange(self, request: httpx.Request, raw: bytes, clock: _Clock) -> httpx.Response:
        """Send ``raw`` (the request's bytes) and read the response, on a pooled connection
        or a new one."""
        address = (request.url.host, request.url.port or 80)
        repeatable = _repeatable(request)
        for attempt in (1, 2):
            connection, reused = await self._connection(address, clock, request)
            clock.start("write")
            try:
                connection.writer.write(raw)
                await connection.writer.drain()
                clock.start("read")
                status, headers, content, keep = await _read_response(
                    _Reader(connection.reader, clock), request.method
                )
            except BaseException as exc:
                # Failed, or cancelled (a timeout): the socket goes too.
                connection.close()
                if repeatable and reused and attempt == 1 and _never_answered(exc):
                    continue  # a stale connection the idle check could not see
                error = _transport_error(exc, clock.phase == "write", request)
                if error is None:
                    raise
                raise error from None
            self._release(address, connection, keep)
            return httpx.Response(
                status, headers=headers, content=content, request=request, extensions={}
            )
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _head(self, request: httpx.Request, body: bytes) -> bytes:
        url = request.url
        target = url.raw_path.decode("ascii")
        lines = [f"{request.method} {target} HTTP/1.1"]
        seen = set()
        for name, value in request.headers.multi_items():
            lowered = name.lower()
            if lowered in ("transfer-encoding", "content-length", "connection"):
                continue
            seen.add(lowered)
            lines.append(f"{name}: {value}")
        if "host" not in seen:
            lines.append(f"Host: {url.netloc.decode('ascii')}")
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _connection(
        self, address: tuple[str, int], clock: _Clock, request: httpx.Request
    ) -> tuple[_Connection, bool]:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(address, [])
        while idle:
            connection = idle.pop()
            if loop.time() - connection.idle_since < _IDLE_S and connection.still_open():
                return connection, True
            connection.close()
        clock.start("connect")
        try:
            reader, writer = await asyncio.open_connection(*address, limit=_MAX_LINE)
        except OSError as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from None
        return _Connection(reader, writer), False

    def _release(self, address: tuple[str, int], connection: _Connection, keep: bool) -> None:
        idle = self._idle.setdefault(address, [])
        if keep and not self._closed and len(idle) < self.max_idle:
            connection.idle_since = asyncio.get_running_loop().time()
            idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


class _Closed(Exception):
    """The server closed the connection before the response's first byte."""


class _ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as we read it."""


class _TooLarge(Exception):
    """The response body is over the cap."""


def _repeatable(request: httpx.Request) -> bool:
    return request.method in _IDEMPOTENT_METHODS or request.extensions.get(IDEMPOTENT) is True


def _never_answered(exc: BaseException) -> bool:
    return isinstance(exc, _Closed | ConnectionResetError | BrokenPipeError)


def _transport_error(
    exc: BaseException, sending: bool, request: httpx.Request
) -> httpx.TransportError | None:
    """The ``httpx`` error for an exchange that failed with ``exc`` while ``sending`` the
    request or reading its response; None for what is no failure of the exchange (a
    cancellation, which a timeout also is until it leaves the exchange, an interrupt)."""
    if isinstance(exc, _TooLarge):
        cap = _size(MAX_RESPONSE_BYTES)
        return ResponseTooLarge(
            f"the response body is over {cap}, the lean transport's cap", request=request
        )
    if isinstance(exc, _ProtocolError):
        return httpx.RemoteProtocolError(str(exc), request=request)
    if isinstance(exc, OSError | asyncio.IncompleteReadError | _Closed):
        kind = httpx.WriteError if sending else httpx.ReadError
        return kind(f"{type(exc).__name__}: {exc}", request=request)
    return None


def _size(count: int) -> str:
    return f"{count // 2**20} MiB" if count % 2**20 == 0 else f"{count} bytes"


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


async def _read_response(
    reader: _Reader, method: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    """Status, headers, the whole body, and whether the connection may be reused."""
    line = await reader.readline()
    if not line:
        raise _Closed("the server closed the connection")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise _ProtocolError(f"not an HTTP/1.x status line: {line[:80]!r}")
    status = int(parts[1])
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    keep = parts[0] == b"HTTP/1.1"
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        if len(headers) >= _MAX_HEADERS:
            raise _ProtocolError("too many response headers")
        name, sep, value = line.partition(b":")
        if not sep:
            raise _ProtocolError(f"malformed header line: {line[:80]!r}")
        name, value = name.strip(), value.strip()
        lowered = name.lower()
        if lowered == b"content-length":
            if not value.isdigit():
                raise _ProtocolError(f"bad Content-Length: {value[:40]!r}")
            length = int(value)
        elif lowered == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lowered == b"connection":
            keep = b"close" not in value.lower() and (keep or b"keep-alive" in value.lower())
        headers.append((name, value))
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", keep
    if chunked:
        content = await _chunked_body(reader)
        headers = [(k, v) for k, v in headers if k.lower() != b"transfer-encoding"]
    elif length is not None:
        _check_size(length)
        content = await reader.readexactly(length)
    else:  # no length: the body runs to the end of the connection
        content = await _body_to_the_end(reader)
        keep = False
    return status, headers, content, keep


def _check_size(size: int) -> None:
    # Read at each call, so that a test can lower the cap.
    if size > MAX_RESPONSE_BYTES:
        raise _TooLarge


async def _body_to_the_end(reader: _Reader) -> bytes:
    pieces: list[bytes] = []
    size = 0
    while piece := await reader.read(_PIECE):
        size += len(piece)
        _check_size(size)
        pieces.append(piece)
    return b"".join(pieces)


async def _chunked_body(reader: _Reader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise asyncio.IncompleteReadError(b"", None)
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            chunk_size = int(size_text, 16)
        except ValueError:
            raise _ProtocolError(f"bad chunk size: {size_text[:40]!r}") from None
        if chunk_size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers, ignored
            return b"".join(chunks)
        size += chunk_size
        _check_size(size)  # before reading the chunk
        chunks.append(await reader.readexactly(chunk_size))
        await reader.readexactly(2)
