"""What the runner gives checks beyond the output: the other variants' outputs
(select-best), embeddings, log-probabilities, the case's transform; and identical
requests in flight answered once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptsuite.config import RunSettings
from promptsuite.models import GenerateRequest, Generation, ModelSpec, Provider, register_provider
from promptsuite.runner import Runner, plan_jobs
from promptsuite.suite import load_suite

Write = Callable[[str, str], Path]


def run(path: Path, tmp_path: Path) -> tuple[Runner, list[Any]]:
    runner = Runner(RunSettings(cache_path=tmp_path / "cache.sqlite"))
    jobs = plan_jobs(load_suite(path))

    async def go() -> list[Any]:
        try:
            return await runner.run_jobs(jobs)
        finally:
            await runner.aclose()

    return runner, asyncio.run(go())


class Grader(Provider):
    """A grader that picks output 1 for select-best, and counts its calls."""

    calls = 0

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def identity(self) -> dict[str, Any]:
        return {"provider": "pick-one"}

    async def generate(self, request: GenerateRequest) -> Generation:
        type(self).calls += 1
        return Generation('{"reason": "it is shouted", "best": 1}')


def test_select_best_compares_the_variants_of_a_case(write: Write, tmp_path: Path) -> None:
    register_provider("pick-one", Grader)
    Grader.calls = 0
    write("prompts/p.yaml", "variants:\n  plain: {user: '{{ w }}'}\n  loud: {user: '{{ w }}!'}\n")
    path = write(
        "suites/s.yaml",
        "prompt: {file: ../prompts/p.yaml, variants: [plain, loud]}\n"
        "models: [scripted]\n"
        "cases:\n"
        "  - id: a\n"
        "    vars: {w: hi}\n"
        "    expect: [{type: select-best, value: the loudest, grader: pick-one}]\n",
    )
    runner, results = run(path, tmp_path)
    verdicts = {r.variant: r.passed for r in results}
    assert verdicts == {"plain": False, "loud": True}, [r.error for r in results]
    # Each variant's output is generated once, and both jobs get one grader verdict.
    assert runner.stats.by_provider["scripted"] == 2
    assert Grader.calls == 1


def test_similar_embeds_with_the_case_model(write: Write, tmp_path: Path) -> None:
    path = write(
        "suites/s.yaml",
        "prompt: {user: '{{ w }}'}\n"
        "models: [scripted]\n"
        "cases:\n"
        "  - {id: same, vars: {w: the cat sat}, expect: [{type: similar, value: the cat sat}]}\n"
        "  - {id: other, vars: {w: dogs bark}, expect: [{type: similar, value: the cat sat}]}\n",
    )
    _, results = run(path, tmp_path)
    assert [(r.case_id, r.passed) for r in results] == [("same", True), ("other", False)]


def test_a_case_transform_rewrites_the_output(write: Write, tmp_path: Path) -> None:
    path = write(
        "suites/s.yaml",
        "prompt: {user: '{{ w }}'}\n"
        "models: [scripted]\n"
        "defaults: {transform: output.upper()}\n"
        "cases:\n"
        "  - {id: a, vars: {w: quiet}, expect: [{type: equals, value: QUIET}]}\n"
        "  - id: b\n"
        "    vars: {w: quiet}\n"
        "    transform: 'output[:2]'\n"
        "    expect: [{type: equals, value: qu}]\n",
    )
    _, results = run(path, tmp_path)
    assert [r.passed for r in results] == [True, True], [r.repeats[0].checks for r in results]


class Counting(Provider):
    calls = 0

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def identity(self) -> dict[str, Any]:
        return {"provider": "counting"}

    async def generate(self, request: GenerateRequest) -> Generation:
        type(self).calls += 1
        await asyncio.sleep(0.05)
        return Generation(request.messages[-1].content)


def test_identical_requests_in_flight_are_made_once(write: Write, tmp_path: Path) -> None:
    register_provider("counting", Counting)
    Counting.calls = 0
    path = write(
        "suites/s.yaml",
        "prompt: {user: '{{ w }}'}\n"
        "models: [counting]\n"
        "cases:\n" + "".join(f"  - {{id: c{i}, vars: {{w: same}}}}\n" for i in range(5)),
    )
    runner, results = run(path, tmp_path)
    assert all(r.passed for r in results)
    assert Counting.calls == 1
    assert runner.stats.cache_hits == 4
