"""A run session hands its jobs to the loop's thread in one call; each job's future gets
its result or its error, and cancelling a future cancels its job."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from promptsuite.config import RunSettings
from promptsuite.runner import Job
from promptsuite.session import RunSession


class FakeRunner:
    """Answers ``ok-*`` jobs with their id, fails ``bad-*`` ones, holds ``slow-*`` ones."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.holding = threading.Event()

    async def run_job(self, job: Any) -> Any:
        self.started.append(job.test_id)
        if job.test_id.startswith("bad"):
            raise ValueError(f"{job.test_id} failed")
        if job.test_id.startswith("slow"):
            self.holding.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled.append(job.test_id)
                raise
        return job.test_id

    async def aclose(self) -> None:
        return None


def job(test_id: str) -> Job:
    return cast(Job, SimpleNamespace(test_id=test_id))


@pytest.fixture
def session(tmp_path: Path) -> Any:
    run = RunSession(RunSettings(cache_path=tmp_path / "cache.sqlite"))
    runner = run._runner = cast(Any, FakeRunner())
    yield run, runner
    run.close()


def test_results_and_errors_reach_their_jobs_in_order(session: Any) -> None:
    run, runner = session
    jobs = [job("ok-1"), job("bad-2"), job("ok-3")]
    run.start(jobs)
    run.start(jobs)  # scheduled once only
    assert run.result(jobs[0]) == "ok-1"
    with pytest.raises(ValueError, match="bad-2 failed"):
        run.result(jobs[1])
    assert run.result(jobs[2]) == "ok-3"
    assert runner.started == ["ok-1", "bad-2", "ok-3"]


def test_a_job_not_started_yet_is_started_by_its_result(session: Any) -> None:
    run, _ = session
    assert run.result(job("ok-late")) == "ok-late"


def test_cancelling_pending_jobs_cancels_their_tasks(session: Any) -> None:
    run, runner = session
    slow = job("slow-1")
    run.start([slow])
    assert runner.holding.wait(10)
    run.cancel_pending()
    with pytest.raises(CancelledError):
        run.result(slow)
    deadline = time.monotonic() + 10
    while runner.cancelled != ["slow-1"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.cancelled == ["slow-1"]
