"""A run session: a background event loop that runs jobs while pytest reports them.

The pytest plugin hands every selected job to :meth:`RunSession.start` right after
collection, so all model calls run concurrently (bounded by the runner) while pytest walks
its items in order and waits for each item's own result.

While jobs run, Ctrl-C (SIGINT) and SIGTERM (what CI runners and ``timeout`` send) cancel
every pending job at once, so no new model call starts, and then interrupt pytest with a
``KeyboardInterrupt``, so it still writes the results of every case it reported. The
previous handlers are back after the first signal: a second SIGTERM kills at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from types import FrameType
from typing import TYPE_CHECKING, Any

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
        self._previous_handlers: dict[int, Any] = {}

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                ready.set()
                try:
                    loop.run_forever()
                finally:
                    loop.close()

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
        self._catch_signals()
        with self._lock:
            for job in jobs:
                if job.test_id not in self._futures:
                    self._futures[job.test_id] = asyncio.run_coroutine_threadsafe(
                        runner.run_job(job), loop
                    )

    def result(self, job: Job) -> CaseResult:
        """Wait for a job's result, scheduling it first if needed."""
        self.start([job])
        try:
            return self._futures[job.test_id].result()
        except KeyboardInterrupt:
            self.cancel_pending()
            raise

    def cancel_pending(self) -> None:
        """Cancel every job that has not finished, so no new model call starts."""
        with self._lock:
            for future in self._futures.values():
                future.cancel()

    def _catch_signals(self) -> None:
        # Only the main thread may set handlers, and a handler someone else installed wins.
        if self._previous_handlers or threading.current_thread() is not threading.main_thread():
            return
        defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
        for signum, default in defaults.items():
            if signal.getsignal(signum) is default:
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # This runs in the main thread between two bytecodes, maybe while it holds a lock,
        # so it only asks the loop to cancel every job (a lock-free, thread-safe call)
        # before interrupting pytest, which then writes the results it has.
        self._restore_handlers()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_cancel_all_tasks, loop)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def _restore_handlers(self) -> None:
        previous, self._previous_handlers = self._previous_handlers, {}
        if threading.current_thread() is threading.main_thread():
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def close(self) -> None:
        """Cancel what is still pending, close providers and stop the loop."""
        self._restore_handlers()
        if self._loop is None:
            return
        self.cancel_pending()
        if self._runner is not None:
            closing = asyncio.run_coroutine_threadsafe(self._runner.aclose(), self._loop)
            # Closing must not hide the run's own outcome.
            with contextlib.suppress(Exception):
                closing.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._loop = None


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()
