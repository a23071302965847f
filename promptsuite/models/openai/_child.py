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
from typing import Any


async def _serve() -> None:
    from promptsuite.errors import PromptsuiteError
    from promptsuite.models.openai._client import AttemptReport, new_client, post_once

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    writer, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout.buffer)
    writer.write(b'{"ready":true}\n')  # the client is imported: send requests
    clients: dict[tuple[Any, ...], Any] = {}
    tasks: set[asyncio.Task[None]] = set()

    def send(number: int, report: AttemptReport) -> None:
        answer = {"id": number, **report.to_json(), "n": len(report.content)}
        line = json.dumps(answer, separators=(",", ":")).encode("utf-8")
        writer.write(line + b"\n" + report.content)

    async def handle(request: dict[str, Any]) -> None:
        number = request["id"]
        key = tuple(request["client"])
        try:
            base_url, api_key_env, api_key, key_required, timeout, transport = key
            if key not in clients:
                clients[key] = new_client(
                    base_url, api_key_env, key_required, timeout, transport, {api_key_env: api_key}
                )
            report = await post_once(clients[key], timeout, request["path"], request["body"])
        except PromptsuiteError as exc:
            report = AttemptReport("error", detail=str(exc), error_type=type(exc).__name__)
        send(number, report)

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
