"""The pytest process's handle on one model-call helper process.

``import openai`` takes 0.6-1 s and the client spends ~2.5 ms of CPU per request; in the
pytest process both sit on the path of every case (one core: pytest's thread and the
runner's event loop share the interpreter lock). The helper
(:mod:`promptsuite.models.openai._child`) imports the client at once, while pytest starts
and collects on the other core, then makes the HTTP requests the providers hand it through
its :class:`CallProcess`.
Each request goes over its stdin as one JSON line; each answer comes back on its stdout as
one JSON line, followed by the raw response body when there is one. When it starts and
which loop uses it is :class:`~promptsuite.models.openai.CallHelper`'s business.

The helper is still the real ``openai`` client with the same transport; it makes one
attempt per request, and the provider in the pytest process keeps retries, backoff, error
classification and parsing, so a run's results are the same with it or without it. The API
key is read in the pytest process when each request is made (as without the helper, so a
key set after start-up is used) and handed to the helper over its private pipe; it is
never in an answer, an error or a log.

If the helper dies, every request in flight fails as a retryable transport error naming
its exit code and last words, and later attempts run in the pytest process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Mapping
from typing import IO, Any

from promptsuite.models.openai._client import AttemptReport

__all__ = ["CallProcess", "CallProcessGone"]


class CallProcessGone(Exception):
    """The helper exited; the message says with which code and last words."""


class CallProcess:
    """The pytest process's handle on the helper.

    Only the event loop it is bound to (:meth:`bind`: the run's own loop) sends it
    requests; from any other loop (a test's, a second run's) :meth:`usable` is False and
    requests run in-process.

    Args:
        process: The helper's child, with pipes for stdin and stdout.
        stderr: The file its stderr goes to (its last words, if it dies); closed with it.
    """

    def __init__(self, process: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
        self._stderr = stderr
        self._process: subprocess.Popen[bytes] | None = process
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._pending: dict[int, asyncio.Future[AttemptReport]] = {}
        self._next_id = 0
        self._gone: str | None = None
        self._reading: asyncio.Task[None] | None = None
        self._attaching: asyncio.Task[None] | None = None
        self._ready = False
        self._ready_event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Take requests from ``loop`` only (the first loop bound keeps it), and start
        listening on it for the helper's word that it is ready."""
        if self._loop is None:
            self._loop = loop
            loop.call_soon_threadsafe(self._begin)

    def _begin(self) -> None:
        if self._attaching is None:
            self._attaching = asyncio.get_running_loop().create_task(self._connect())

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until the helper has imported the client and listens (or is gone), for
        ``timeout`` seconds at most."""
        await self._attach()
        if self._ready_event is not None and not self._ready:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready_event.wait(), timeout)
        return self._ready and self._gone is None

    def attached_to(self, loop: asyncio.AbstractEventLoop) -> bool:
        """True when the helper is bound to ``loop``, or to no loop."""
        return self._loop is None or self._loop is loop

    def usable(self) -> bool:
        """True when requests from the running loop can go to the helper now: it is bound
        to this loop, ready and alive."""
        return self.waitable() and self._ready

    def waitable(self) -> bool:
        """True when requests from the running loop may wait for the helper: it is bound
        to this loop and neither gone nor stopped (it may still be importing the client)."""
        if self._gone is not None or self._process is None:
            return False
        return self._loop is asyncio.get_running_loop()

    async def post(
        self,
        *,
        base_url: str,
        api_key_env: str,
        api_key: str,
        key_required: bool,
        timeout: float,
        transport: str,
        path: str,
        body: Mapping[str, Any],
    ) -> AttemptReport:
        """One attempt of ``POST path`` in the helper.

        Raises:
            CallProcessGone: The helper exited before answering.
        """
        await self._attach()
        if self._gone is not None or self._writer is None:
            raise CallProcessGone(self._gone or "the model-call process is not running")
        self._next_id += 1
        number = self._next_id
        future: asyncio.Future[AttemptReport] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        request = {
            "id": number,
            "client": [base_url, api_key_env, api_key, key_required, timeout, transport],
            "path": path,
            "body": body,
        }
        self._writer.write(json.dumps(request, separators=(",", ":")).encode("utf-8") + b"\n")
        try:
            return await future
        finally:
            self._pending.pop(number, None)

    async def _attach(self) -> None:
        # Binding connects the pipes; whoever comes first waits for it.
        self._begin()
        assert self._attaching is not None
        await asyncio.shield(self._attaching)

    async def _connect(self) -> None:
        if self._process is None or self._gone is not None:
            return
        loop = asyncio.get_running_loop()
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        self._ready_event = asyncio.Event()
        reader = asyncio.StreamReader(limit=2**20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), process.stdout)
        self._writer, _ = await loop.connect_write_pipe(asyncio.Protocol, process.stdin)
        self._reading = loop.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                answer = json.loads(line)
                if answer.get("ready"):
                    self._ready = True
                    if self._ready_event is not None:
                        self._ready_event.set()
                    continue
                content = await reader.readexactly(answer["n"]) if answer.get("n") else b""
                future = self._pending.get(answer["id"])
                if future is not None and not future.done():
                    future.set_result(AttemptReport.from_json(answer, content))
        except (OSError, ValueError, KeyError, asyncio.IncompleteReadError):
            pass
        self._fail_all(self._exit_reason())

    def _exit_reason(self) -> str:
        process = self._process
        code = None
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = process.wait(timeout=2)
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        last = f": {lines[-1].strip()}" if lines else ""
        return f"the model-call process exited (code {code}){last}"

    def _fail_all(self, reason: str) -> None:
        self._gone = reason
        if self._ready_event is not None:
            self._ready_event.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CallProcessGone(reason))

    async def aclose(self) -> None:
        """Stop the helper from the loop its pipes are attached to (end of input), and
        wait for it to exit."""
        if self._next_id == 0 and self._process is not None:
            self._process.kill()  # never used: it may still be importing the client
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        reading = self._reading
        if reading is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(reading), 5)
        self.close()

    def close(self) -> None:
        """Stop the helper: end of input, then a kill if it does not exit within 2 s (at
        once if it never got a request: it may still be importing the client)."""
        process, self._process = self._process, None
        self._gone = self._gone or "the model-call process was stopped"
        if process is None:
            return
        if self._next_id == 0:
            process.kill()
        writer, self._writer = self._writer, None
        if writer is not None:
            # The loop that owns the pipe may already be stopped: close the file directly.
            with contextlib.suppress(Exception):
                writer.close()
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._stderr.close()
