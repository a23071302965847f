"""A run session: a background event loop that runs jobs while pytest reports them.

The pytest plugin hands every selected job to :meth:`RunSession.start` right after
collection, so all model calls run concurrently (bounded by the runner) while pytest walks
its items in order and waits for each item's own result.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from promptsuite.config import RunSettings
from promptsuite.results import CaseResult

if TYPE_CHECKING:
    from promptsuite.runner import Job, Runner


class RunSession:
    """Owns the runner and the thread its event loop runs in."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Runner | None = None
        self._futures: dict[str, Future[CaseResult]] = {}
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                ready.set()
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="promptsuite-runner", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
        return self._loop

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            from promptsuite.runner import Runner

            self._runner = Runner(self.settings)
        return self._runner

    def start(self, jobs: Iterable[Job]) -> None:
        """Schedule jobs that are not scheduled yet; returns at once."""
        loop = self._ensure_loop()
        runner = self.runner
        with self._lock:
            for job in jobs:
                if job.test_id not in self._futures:
                    self._futures[job.test_id] = asyncio.run_coroutine_threadsafe(
                        runner.run_job(job), loop
                    )

    def result(self, job: Job) -> CaseResult:
        """Wait for a job's result, scheduling it first if needed."""
        self.start([job])
        return self._futures[job.test_id].result()

    def close(self) -> None:
        """Cancel what is still pending, close providers and stop the loop."""
        if self._loop is None:
            return
        for future in self._futures.values():
            future.cancel()
        if self._runner is not None:
            closing = asyncio.run_coroutine_threadsafe(self._runner.aclose(), self._loop)
            # Closing must not hide the run's own outcome.
            with contextlib.suppress(Exception):
                closing.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._loop = None
