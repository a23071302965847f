"""Re-testing on the held-out split: prompt variants on models, run by the normal runner.

The search's figures are validation scores, which the search chose on; the claim that
matters is the test score, measured here by :class:`promptsuite.runner.Runner` exactly as
``pytest`` would run the variants. One engine serves every re-test: the optimizer's
verification (the picks against the user's own variant, on the task model) and the
fine-tune's arms (your prompt and the best prompt on the base model and on the fine-tuned
one, and each adapter of the learning curve).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from promptsuite.config import RunSettings
from promptsuite.models import ModelSpec
from promptsuite.optimize._records import CaseScore, RunnerCounts
from promptsuite.results import CaseResult
from promptsuite.suite import Prompt, Suite, Variant

__all__ = ["Retested", "as_case_score", "retest"]

ArmKey = TypeVar("ArmKey", bound=str)


@dataclass(frozen=True)
class Retested(Generic[ArmKey]):
    """What a re-test found.

    Attributes:
        scores: Arm name -> its per-case results on the test split, in the suite's order.
        counts: The runner's counters, one per model, in the order the arms first name them.
    """

    scores: dict[ArmKey, list[CaseScore]]
    counts: tuple[RunnerCounts, ...]


def retest(
    suite: Suite,
    split: Mapping[str, str],
    variants: Mapping[str, Variant],
    arms: Mapping[ArmKey, tuple[ModelSpec, str]],
    settings: RunSettings,
) -> Retested[ArmKey]:
    """Run each arm (a model and the name of one of ``variants``) on the test cases.

    The arms of one model run together, in one pass of the runner (through its cache).

    Args:
        suite: The suite.
        split: Case id -> ``train`` / ``val`` / ``test``.
        variants: Variant name -> variant (those not in the suite's prompt are added to it).
        arms: Arm name -> (model, variant name).
        settings: The runner's settings (cache).
    """
    models: list[ModelSpec] = []
    for model, _ in arms.values():
        if model not in models:
            models.append(model)
    scores: dict[ArmKey, list[CaseScore]] = {}
    counts = []
    for model in models:
        names = dict.fromkeys(name for spec, name in arms.values() if spec == model)
        by_variant, count = _run(suite, split, {n: variants[n] for n in names}, model, settings)
        counts.append(count)
        scores.update(
            {arm: by_variant[name] for arm, (spec, name) in arms.items() if spec == model}
        )
    return Retested({arm: scores[arm] for arm in arms}, tuple(counts))


def _run(
    suite: Suite,
    split: Mapping[str, str],
    variants: Mapping[str, Variant],
    model: ModelSpec,
    settings: RunSettings,
) -> tuple[dict[str, list[CaseScore]], RunnerCounts]:
    from promptsuite.runner import Runner, plan_jobs

    prompt = suite.prompt
    merged = Prompt(prompt.name, prompt.file, {**prompt.variants, **variants}, prompt.default)
    test_suite = dataclasses.replace(
        suite,
        prompt=merged,
        variants=tuple(variants),
        cases=tuple(case for case in suite.cases if split.get(case.id) == "test"),
    )
    runner = Runner(settings)
    # One variant's cases back to back: a local model then reuses the variant's prompt prefix
    # (its instruction and demos) from one call to the next instead of re-reading it each time.
    order = {name: position for position, name in enumerate(variants)}
    jobs = sorted(plan_jobs(test_suite, [model]), key=lambda job: order[job.variant])

    async def run() -> list[CaseResult]:
        try:
            return await runner.run_jobs(jobs)
        finally:
            await runner.aclose()

    results = asyncio.run(run())
    by_variant: dict[str, list[CaseScore]] = {name: [] for name in variants}
    for result in results:
        by_variant[result.variant].append(as_case_score(result))
    stats = runner.stats
    counts = RunnerCounts(
        model_calls=stats.model_calls, cache_hits=stats.cache_hits, errors=stats.errors
    )
    return by_variant, counts


def as_case_score(result: CaseResult, split: str = "test") -> CaseScore:
    """A runner result as a case score of ``split`` (an errored case scores 0)."""
    repeats = result.repeats or []
    return CaseScore(
        case_id=result.case_id,
        split=split,
        tags=list(result.tags),
        scores=[r.score for r in repeats] or [0.0],
        passes=[r.passed and not r.error for r in repeats] or [False],
        output=repeats[0].output if repeats else "",
        failed_checks=[c.name for c in repeats[0].checks if not c.passed] if repeats else [],
    )
