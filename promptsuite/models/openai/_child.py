"""The model-call helper process's side (see :mod:`promptsuite.models.openai._process`).

It imports the ``openai`` client at once, then reads one JSON request per line on stdin and
makes one attempt for each, concurrently; each answer is one JSON line on stdout (``n``: the
length of the raw response body that follows it). End of input: it finishes what is in
flight and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any


async def _serve() -> None:
    from promptsuite.errors import PromptsuiteError
    from promptsuite.models.openai.provider import new_client

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    writer, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout.buffer)
    writer.write(b'{"ready":true}\n')  # the client is imported: send requests
    clients: dict[tuple[Any, ...], Any] = {}
    tasks: set[asyncio.Task[None]] = set()

    def send(answer: dict[str, Any], content: bytes = b"") -> None:
        answer["n"] = len(content)
        writer.write(json.dumps(answer, separators=(",", ":")).encode("utf-8") + b"\n" + content)

    async def handle(request: dict[str, Any]) -> None:
        number = request["id"]
        key = tuple(request["client"])
        try:
            base_url, api_key_env, api_key, key_required, timeout, transport = key
            if key not in clients:
                clients[key] = new_client(
                    base_url, api_key_env, key_required, timeout, transport, {api_key_env: api_key}
                )
            answer, content = await _attempt(clients[key], timeout, request)
            send({"id": number, **answer}, content)
        except PromptsuiteError as exc:
            send(
                {
                    "id": number,
                    "kind": "error",
                    "detail": str(exc),
                    "error_type": type(exc).__name__,
                }
            )

    while True:
        line = await reader.readline()
        if not line:
            break
        task = loop.create_task(handle(json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    for client in clients.values():
        with contextlib.suppress(Exception):
            await client.close()


async def _attempt(
    client: Any, timeout: float, request: Mapping[str, Any]
) -> tuple[dict[str, Any], bytes]:
    """One attempt, as the provider makes it in-process (see ``OpenAIProvider._attempt``)."""
    import openai

    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            content = await client.post(request["path"], cast_to=bytes, body=request["body"])
    except (TimeoutError, openai.APITimeoutError):
        return {"kind": "timeout"}, b""
    except openai.APIConnectionError as err:
        cause = err.__cause__
        reason = f"{type(cause).__name__}: {cause}" if cause else str(err)
        return {"kind": "connection", "detail": reason}, b""
    except openai.APIStatusError as err:
        body = err.body if _jsonable(err.body) else str(err.body)
        headers = dict(err.response.headers)
        return {"kind": "status", "status": err.status_code, "headers": headers, "body": body}, b""
    return {"kind": "ok", "latency": time.perf_counter() - started}, content


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def main() -> int:
    """The helper: import the client now (the point of starting early), then serve."""
    import openai  # noqa: F401

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve())
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    code = main()
    # Every answer is written (stdout's pipe closed with the loop) and the clients are
    # closed: tearing the interpreter down (the client's thousands of classes, ~0.4 s)
    # would only keep the pytest process waiting for the pipe's end.
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)
