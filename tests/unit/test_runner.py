"""The runner: bounded concurrency, caching, repeats, errors kept apart from failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptsuite.cache import CacheMode
from promptsuite.config import RunSettings
from promptsuite.errors import TransportError
from promptsuite.models import (
    GenerateRequest,
    Generation,
    ModelSpec,
    Provider,
    register_provider,
)
from promptsuite.runner import Runner, plan_jobs
from promptsuite.suite import load_suite

Write = Callable[[str, str], Path]


class SlowEcho(Provider):
    """Echoes after a short sleep and records how many calls overlap."""

    in_flight = 0
    max_in_flight = 0
    calls = 0

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.max_concurrency = spec.options_dict.get("limit")

    def identity(self) -> dict[str, Any]:
        return {"provider": "slow-echo", "model": self.spec.model}

    async def generate(self, request: GenerateRequest) -> Generation:
        cls = type(self)
        cls.calls += 1
        cls.in_flight += 1
        cls.max_in_flight = max(cls.max_in_flight, cls.in_flight)
        try:
            await asyncio.sleep(0.01)
            text = request.messages[-1].content
            if "explode" in text:
                raise TransportError("HTTP 503 after 3 attempts")
            return Generation(text, 1, len(text.split()), 0.01, "stop", "echo")
        finally:
            cls.in_flight -= 1


@pytest.fixture(autouse=True)
def _slow_echo() -> None:
    register_provider("slow-echo", SlowEcho)
    SlowEcho.in_flight = SlowEcho.max_in_flight = SlowEcho.calls = 0


def suite_file(write: Write, cases: int, model: str = "slow-echo", repeat: int = 1) -> Path:
    lines = [
        "prompt: {user: 'say {{ word }}'}",
        f"models: [{model}]",
        f"defaults: {{repeat: {repeat}}}",
        "cases:",
    ]
    for i in range(cases):
        word = "explode" if i == 3 else f"w{i}"
        lines.append(
            f"  - {{id: c{i}, vars: {{word: {word}}}, expect: [{{type: contains, value: w}}]}}"
        )
    return write("suites/s.yaml", "\n".join(lines) + "\n")


def run(settings: RunSettings, path: Path) -> tuple[Runner, list[Any]]:
    runner = Runner(settings)
    jobs = plan_jobs(load_suite(path))

    async def go() -> list[Any]:
        try:
            return await runner.run_jobs(jobs)
        finally:
            await runner.aclose()

    return runner, asyncio.run(go())


@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_global_concurrency_bound(write: Write, tmp_path: Path, concurrency: int) -> None:
    settings = RunSettings(concurrency=concurrency, cache_mode=CacheMode.OFF)
    run(settings, suite_file(write, 40))
    assert SlowEcho.max_in_flight == concurrency


def test_provider_limit_is_respected(write: Write) -> None:
    settings = RunSettings(concurrency=16, cache_mode=CacheMode.OFF)
    run(settings, suite_file(write, 30, model="{provider: slow-echo, limit: 3}"))
    assert SlowEcho.max_in_flight == 3


def test_errors_are_errors_and_never_cached(write: Write, tmp_path: Path) -> None:
    settings = RunSettings(cache_mode=CacheMode.USE, cache_path=tmp_path / "c.sqlite")
    path = suite_file(write, 6)
    runner, results = run(settings, path)
    assert runner.stats.model_calls == 5 and runner.stats.errors == 1
    bad = results[3]
    assert bad.error_kind == "TransportError" and not bad.passed
    assert [r.passed for i, r in enumerate(results) if i != 3] == [True] * 5
    runner, results = run(settings, path)
    assert runner.stats.cache_hits == 5
    assert SlowEcho.calls == 7  # 6 first time, then only the failed one again


def test_repeats_are_separate_samples(write: Write, tmp_path: Path) -> None:
    settings = RunSettings(cache_mode=CacheMode.USE, cache_path=tmp_path / "c.sqlite")
    _, results = run(settings, suite_file(write, 2, repeat=3))
    assert [len(r.repeats) for r in results] == [3, 3]
    assert SlowEcho.calls == 6
    _, results = run(RunSettings(repeat=4, cache_path=tmp_path / "c.sqlite"), suite_file(write, 2))
    assert SlowEcho.calls == 8  # repeat index 3 is new for both cases


def test_replay_mode_never_calls_the_model(write: Write, tmp_path: Path) -> None:
    settings = RunSettings(cache_mode=CacheMode.REPLAY, cache_path=tmp_path / "c.sqlite")
    _, results = run(settings, suite_file(write, 2))
    assert SlowEcho.calls == 0
    assert {r.error_kind for r in results} == {"CacheMiss"}


def noisy_script(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """Passes repeats 0 and 2 of every case, fails repeat 1: a known, seeded pattern."""
    return "yes" if params["repeat"] != 1 else "no"


@pytest.mark.parametrize(
    ("reducer", "min_pass_rate", "passed", "score"),
    [
        ("all-pass", None, False, 0.0),
        ("mean", None, True, 2 / 3),
        ("any-pass", None, True, 1.0),
        ("all-pass", 0.6, True, 0.0),
        ("any-pass", 0.7, False, 1.0),
    ],
)
def test_reducers_turn_disagreeing_repeats_into_one_verdict(
    write: Write,
    tmp_path: Path,
    reducer: str,
    min_pass_rate: float | None,
    passed: bool,
    score: float,
) -> None:
    rate = "" if min_pass_rate is None else f", min_pass_rate: {min_pass_rate}"
    path = write(
        "suites/s.yaml",
        "prompt: {user: 'q'}\n"
        f"models: [{{provider: scripted, script: '{__name__}:noisy_script'}}]\n"
        f"defaults: {{repeat: 3, reducer: {reducer}{rate}}}\n"
        "cases: [{id: a, expect: [{type: equals, value: 'yes'}]}]\n",
    )
    _, (result,) = run(RunSettings(cache_mode=CacheMode.OFF), path)
    assert [r.passed for r in result.repeats] == [True, False, True]
    assert (result.passed, result.reducer, result.min_pass_rate) == (passed, reducer, min_pass_rate)
    assert result.score == pytest.approx(score)
    assert result.flaky and result.passes == 2 and result.pass_rate == pytest.approx(2 / 3)
    low, high = result.interval
    assert 0.2 < low < 2 / 3 < high < 1


def test_the_command_line_reducer_overrides_the_suite(write: Write, tmp_path: Path) -> None:
    path = write(
        "suites/s.yaml",
        "prompt: {user: 'q'}\n"
        f"models: [{{provider: scripted, script: '{__name__}:noisy_script'}}]\n"
        "defaults: {repeat: 3, reducer: all-pass}\n"
        "cases: [{id: a, reducer: all-pass, expect: [{type: equals, value: 'yes'}]}]\n",
    )
    _, (result,) = run(RunSettings(cache_mode=CacheMode.OFF, reducer="any-pass"), path)
    assert result.passed and result.reducer == "any-pass"
