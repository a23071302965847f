"""A lean HTTP/1.1 transport for the ``openai`` client's plain-HTTP endpoints.

The ``openai`` client sends through ``httpx`` (``httpx2`` since openai 3), whose default
transport (``httpcore`` and the ``h11`` state machine) costs about as much CPU per request as
a local server takes to answer. For ``http://`` endpoints (Ollama, vLLM, llama.cpp, a stub
on 127.0.0.1) this transport does the same exchange with asyncio streams: keep-alive
connections reused from a pool, ``Content-Length`` or chunked bodies, nothing else.
``https://`` endpoints (OpenAI itself) keep httpx's own transport, with its TLS, proxies
and HTTP/2 handling.

Failures are raised as the ``httpx`` exceptions the ``openai`` client maps onto its own
(``ConnectError``, ``ReadError``, ``RemoteProtocolError``, ``ReadTimeout``), so the provider
sees the same errors through either transport.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

try:  # the HTTP library under the installed ``openai`` client (renamed in openai 3)
    import httpx2 as httpx
except ImportError:  # pragma: no cover - older openai releases
    import httpx  # type: ignore[no-redef]

__all__ = ["LeanTransport", "httpx"]

#: Longest status line or header line accepted, and most header lines.
_MAX_LINE = 65_536
_MAX_HEADERS = 200
#: A connection idle in the pool longer than this is closed rather than reused.
_IDLE_S = 30.0


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class LeanTransport(httpx.AsyncBaseTransport):
    """Plain HTTP/1.1 over pooled keep-alive connections, for one host.

    Args:
        max_idle: Idle connections kept for reuse at most.
    """

    def __init__(self, max_idle: int = 64) -> None:
        self.max_idle = max_idle
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"the lean transport speaks http://, not {url.scheme}")
        address = (url.host, url.port or 80)
        body = await request.aread()
        head = self._head(request, body)
        timeout = _read_timeout(request)
        for attempt in (1, 2):
            connection, reused = await self._connection(address, timeout)
            try:
                connection.writer.write(head + body)
                await connection.writer.drain()
                status, headers, content, keep = await asyncio.wait_for(
                    _read_response(connection.reader, request.method), timeout
                )
            except TimeoutError:
                connection.close()
                raise httpx.ReadTimeout("timed out reading the response", request=request) from None
            except (OSError, asyncio.IncompleteReadError, _Closed) as exc:
                connection.close()
                # A pooled connection the server closed while idle fails on first use:
                # that request never reached the server, so it is sent once more.
                if reused and attempt == 1 and _never_answered(exc):
                    continue
                raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from None
            except _ProtocolError as exc:
                connection.close()
                raise httpx.RemoteProtocolError(str(exc), request=request) from None
            except BaseException:  # cancelled (the attempt's deadline): the socket goes too
                connection.close()
                raise
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
        self, address: tuple[str, int], timeout: float | None
    ) -> tuple[_Connection, bool]:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(address, [])
        while idle:
            connection = idle.pop()
            fresh = loop.time() - connection.idle_since < _IDLE_S
            if fresh and not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection, True
            connection.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*address, limit=_MAX_LINE), timeout
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {address[0]}:{address[1]}") from None
        except OSError as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from None
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


def _never_answered(exc: BaseException) -> bool:
    return isinstance(exc, _Closed | ConnectionResetError | BrokenPipeError)


def _read_timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout") or {}
    value = timeouts.get("read")
    return float(value) if isinstance(value, int | float) else None


async def _read_response(
    reader: asyncio.StreamReader, method: str
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
        content = b"".join([chunk async for chunk in _chunks(reader)])
        headers = [(k, v) for k, v in headers if k.lower() != b"transfer-encoding"]
    elif length is not None:
        content = await reader.readexactly(length)
    else:  # no length: the body runs to the end of the connection
        content = await reader.read()
        keep = False
    return status, headers, content, keep


async def _chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise asyncio.IncompleteReadError(b"", None)
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _ProtocolError(f"bad chunk size: {size_text[:40]!r}") from None
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers, ignored
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)
