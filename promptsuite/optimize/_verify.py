"""Verification: the chosen variants re-run on the held-out test split by the normal runner.

The search's figures are validation scores, which the search chose on; the claim that
matters is the test score, measured here by :class:`promptsuite.runner.Runner` exactly as
``pytest`` would run the variants, against the user's own variant on the same cases.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping

from promptsuite.config import RunSettings
from promptsuite.models import ModelSpec
from promptsuite.optimize._records import CaseScore
from promptsuite.results import CaseResult
from promptsuite.suite import Prompt, Suite, Variant

__all__ = ["as_case_score", "verify_on_test"]


def verify_on_test(
    suite: Suite,
    split: Mapping[str, str],
    variants: Mapping[str, Variant],
    model: ModelSpec,
    settings: RunSettings,
) -> tuple[dict[str, list[CaseScore]], dict[str, int]]:
    """Run ``variants`` (name -> variant) on the test cases of ``split``.

    Returns:
        Variant name -> per-case test results, and the runner's counters (model calls,
        cache hits, errors).
    """
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

    async def run() -> list[CaseResult]:
        try:
            return await runner.run_jobs(plan_jobs(test_suite, [model]))
        finally:
            await runner.aclose()

    results = asyncio.run(run())
    by_variant: dict[str, list[CaseScore]] = {name: [] for name in variants}
    for result in results:
        by_variant[result.variant].append(as_case_score(result))
    stats = runner.stats
    counters = {
        "model_calls": stats.model_calls,
        "cache_hits": stats.cache_hits,
        "errors": stats.errors,
    }
    return by_variant, counters


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
