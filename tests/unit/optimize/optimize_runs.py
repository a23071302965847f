"""Deterministic optimization runs for the analysis, export and report tests."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from promptsuite.models import GenerationParams
from promptsuite.optimize import (
    Candidate,
    CaseScore,
    Demo,
    OptimizationRun,
    ReferenceSummary,
    SearchSettings,
)

Outcome = Callable[[int, int, int], bool]
"""(candidate position, case number, repeat) -> passed."""


def nested(levels: Sequence[float], n_cases: int) -> Outcome:
    """Candidate k passes exactly the first ``round(levels[k] * n_cases)`` cases."""
    return lambda k, i, r: i < round(levels[k] * n_cases)


def coin_flips(p: float, seed: int) -> Outcome:
    """Every candidate, case and repeat passes independently with probability ``p``."""
    draws: dict[tuple[int, int, int], bool] = {}

    def outcome(k: int, i: int, r: int) -> bool:
        key = (k, i, r)
        if key not in draws:
            draws[key] = random.Random(f"{seed}-{k}-{i}-{r}").random() < p
        return draws[key]

    return outcome


def make_run(
    n_candidates: int,
    n_cases: int,
    outcome: Outcome,
    *,
    repeats: int = 1,
    split: str = "val",
    target: float = 0.9,
    budget: int | None = None,
    tags: Callable[[int], list[str]] = lambda i: ["task", f"group{i % 3}"],
    test_outcome: Outcome | None = None,
    test_cases: int | None = None,
    tested: bool = True,
    train_references: int = 10,
    with_demos: bool = True,
    wrong: Callable[[int], str] = lambda i: f"wrong {i}",
    model: str = "local",
) -> OptimizationRun:
    """A run whose candidate k passes case i on repeat r when ``outcome(k, i, r)``.

    The baseline and the best candidate are verified on ``test_cases`` held-out cases
    (default as many as validation ones) decided by ``test_outcome`` (default ``outcome``),
    unless ``tested`` is False; ``train_references`` train cases had a reference answer.
    A passing reply to case i is ``answer i``, a failing one ``wrong(i)``.
    """

    def scores(k: int, prefix: str, count: int, decide: Outcome, where: str) -> list[CaseScore]:
        results = []
        for i in range(count):
            passes = [decide(k, i, r) for r in range(repeats)]
            results.append(
                CaseScore(
                    case_id=f"{prefix}{i:03d}",
                    split=where,
                    tags=tags(i),
                    scores=[1.0 if p else 0.0 for p in passes],
                    passes=passes,
                    output=f"answer {i}" if passes[0] else wrong(i),
                    failed_checks=[] if passes[0] else ["equals"],
                )
            )
        return results

    candidates = []
    for k in range(n_candidates):
        cases = scores(k, "c", n_cases, outcome, split)
        candidates.append(
            Candidate(
                index=k,
                source="baseline" if k == 0 else "mipro",
                instruction=f"Instruction {k}",
                demos=[
                    Demo(vars={"q": f"d{j}"}, output=f"a{j}") for j in range(min(k, 4) * with_demos)
                ],
                val_score=sum(c.score for c in cases) / len(cases),
                cases=cases,
                lm_calls=(k + 1) * n_cases,
                tokens=(k + 1) * n_cases * 100,
                prompt_tokens_per_call=100.0 + 40 * min(k, 4),
                elapsed_s=float(k),
            )
        )
    case_split = {f"c{i:03d}": split for i in range(n_cases)}
    run = OptimizationRun(
        suite="synthetic",
        suite_path="suites/synthetic.yaml",
        prompt_path="prompts/synthetic.yaml",
        model=model,
        prompt_model=model,
        optimizer="mipro",
        seed=0,
        budget=budget if budget is not None else n_candidates,
        target=target,
        split=case_split,
        candidates=candidates,
        settings=SearchSettings(
            variant="default",
            adapter="suite",
            fractions=(0.4, 0.3, 0.3),
            max_demos=4,
            params=GenerationParams(),
        ),
        references=ReferenceSummary(
            train_cases=train_references,
            with_reference=train_references,
            stated=0,
            derived=train_references,
        ),
    )
    if tested:
        test_outcome = test_outcome or outcome
        test_cases = n_cases if test_cases is None else test_cases
        best = max(candidates, key=lambda c: (c.val_score, -c.index)).index
        for k in {0, best}:
            run.test_results[k] = scores(k, "t", test_cases, test_outcome, "test")
        run.split.update({f"t{i:03d}": "test" for i in range(test_cases)})
    return run
