"""Hundreds of cases through real pytest against a seeded fault-injecting server.

The schedule fixes every attempt's fate in advance, so each case's outcome, error class,
error text and number of requests is checked exactly, as is the number of faults of each
kind the server injected. Nothing may be lost or duplicated, errors must never be cached,
and a re-run must send requests for the errored cases only.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptsuite.errors import TransportError
from promptsuite.models import GenerateRequest, Message, ModelSpec
from promptsuite.models.openai.provider import OpenAIProvider
from tests.fault_server import FAULTS, FaultSchedule
from tests.hardening import _soak as soak
from tests.stub_server import Action, Status, StubServer, sequence

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def schedule() -> FaultSchedule:
    return soak.schedule_for(soak.SoakConfig())


@pytest.fixture
def server(schedule: FaultSchedule) -> Iterator[StubServer]:
    with StubServer(behavior=schedule) as stub:
        yield stub


def check_first_run(
    report: soak.RunReport,
    root: Path,
    schedule: FaultSchedule,
    planned: list[soak.PlannedCase],
    config: soak.SoakConfig,
    parallel: int,
) -> None:
    assert report.lost == [], report.output[-3000:]
    assert report.duplicated == []
    assert soak.mismatches(report, root, schedule, planned, config) == []
    # Exactly the faults the schedule dictates were injected, so retries were neither
    # skipped nor repeated, and every kind of fault really happened.
    assert Counter(report.injected) == soak.expected_injections(schedule, planned, config)
    assert set(report.injected) == set(FAULTS) - set(config.without)
    attempts = schedule.attempts()
    assert max(attempts.values()) == config.max_attempts
    # A Retry-After header is obeyed before the next attempt.
    waited = 0
    pause = float(schedule.retry_after)
    for case in planned:
        faults = schedule.expect(case.prompt, config.max_attempts).faults
        arrivals = schedule.arrivals(case.prompt)
        for i, fault in enumerate(faults[:-1]):
            if fault == "status_429_retry_after":
                assert arrivals[i + 1] - arrivals[i] >= pause * 0.99, case.test_id
                waited += 1
    assert waited > 0
    outcomes = report.outcomes
    assert outcomes["error"] > 0 and outcomes["failed"] > 0 and outcomes["passed"] > 0
    # Errors are never cached: the cache holds exactly the cases that got a reply.
    assert report.cache_rows == outcomes["passed"] + outcomes["failed"]
    # Every request the server received is counted, failed ones and retries included.
    assert report.model_calls == report.requests and report.cache_hits == 0
    assert report.wall_s < soak.time_bound_s(config, config.cases, parallel)


def check_rerun(
    first: soak.RunReport,
    again: soak.RunReport,
    planned: list[soak.PlannedCase],
) -> None:
    assert again.lost == [] and again.duplicated == []
    # Only the cases that errored were sent again; everything else came from the cache.
    assert again.requests == first.outcomes["error"]
    assert again.model_calls == first.outcomes["error"]
    assert again.cache_hits == len(planned) - first.outcomes["error"]
    assert again.outcomes["error"] == 0
    assert again.outcomes["failed"] == sum(c.fails for c in planned)
    assert again.cache_rows == len(planned)


def test_soak_every_case_ends_as_scheduled_and_a_rerun_retries_only_errors(
    tmp_path: Path, server: StubServer, schedule: FaultSchedule
) -> None:
    config = soak.SoakConfig(cases=400)
    planned = soak.write_project(tmp_path, server.base_url, config)
    first = soak.run_soak(tmp_path, schedule, planned, config)
    assert first.returncode == pytest.ExitCode.TESTS_FAILED
    check_first_run(first, tmp_path, schedule, planned, config, config.concurrency)
    assert server.stats().max_in_flight > 8  # the faults were met at high concurrency

    schedule.healthy = True
    again = soak.run_soak(tmp_path, schedule, planned, config)
    check_rerun(first, again, planned)


def test_soak_with_xdist_workers_sharing_one_cache(
    tmp_path: Path, server: StubServer, schedule: FaultSchedule
) -> None:
    # Hangs are left to the single-process soak: an xdist worker keeps only two items'
    # calls in flight, so each hang would stall a quarter of the run for a whole timeout.
    config = soak.SoakConfig(cases=120, seed=99, without=("hang",))
    schedule = soak.schedule_for(config)
    server.behavior = schedule
    planned = soak.write_project(tmp_path, server.base_url, config)
    first = soak.run_soak(tmp_path, schedule, planned, config, "-n", "2")
    assert first.returncode == pytest.ExitCode.TESTS_FAILED
    check_first_run(first, tmp_path, schedule, planned, config, parallel=4)

    schedule.healthy = True
    again = soak.run_soak(tmp_path, schedule, planned, config, "-n", "2")
    check_rerun(first, again, planned)


def test_backoff_grows_within_its_cap_and_is_really_slept(
    server: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.behavior = lambda index, body: Status(503)
    options = {"base_url": server.base_url, "max_retries": 5}
    options |= {"backoff_base": 0.04, "backoff_max": 0.2}
    provider = OpenAIProvider(ModelSpec("openai", "m", options=tuple(sorted(options.items()))))
    chosen: list[tuple[int, float]] = []
    original = provider._backoff

    def recording(attempt: int, retry_after: float | None) -> float:
        delay = original(attempt, retry_after)
        chosen.append((attempt, delay))
        return delay

    monkeypatch.setattr(provider, "_backoff", recording)

    async def run() -> None:
        try:
            await provider.generate(GenerateRequest((Message("user", "x"),)))
        finally:
            await provider.aclose()

    with pytest.raises(TransportError, match="after 6 attempt"):
        asyncio.run(run())
    assert [a for a, _ in chosen] == [1, 2, 3, 4, 5]
    for attempt, delay in chosen:
        assert 0 <= delay <= min(0.2, 0.04 * 2 ** (attempt - 1))
    arrivals = [r.index for r in server.received()]
    assert arrivals == list(range(6))


def test_retry_after_wins_over_backoff(server: StubServer) -> None:
    arrivals: list[float] = []
    answers = sequence(Status(429, retry_after="0.3"), None)

    def behavior(index: int, body: dict[str, Any]) -> Action | None:
        arrivals.append(time.monotonic())
        return answers(index, body)

    server.behavior = behavior
    options = {"base_url": server.base_url, "backoff_base": 0.001, "backoff_max": 0.001}
    provider = OpenAIProvider(ModelSpec("openai", "m", options=tuple(sorted(options.items()))))

    async def run() -> str:
        try:
            generation = await provider.generate(GenerateRequest((Message("user", "hi"),)))
            return generation.text
        finally:
            await provider.aclose()

    assert asyncio.run(run()) == "hi"
    first, second = arrivals
    assert second - first >= 0.3 * 0.99
