"""How often promptsuite's verdicts agree with promptfoo's documented ones.

Runs the corpus in ``tests/unit/checks/promptfoo_corpus.yaml`` (promptfoo assertions as
promptfoo configs write them, with the pass and score promptfoo documents) through
promptsuite's checks, and prints the verdict and score agreement, by check type, and each
disagreement with its documented reason.

    python benchmarks/promptfoo_agreement.py
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from promptsuite._schema import CheckSpec
from promptsuite.checks import CheckContext, evaluate, score, split_type
from promptsuite.errors import CheckError
from promptsuite.models import Generation

CORPUS = Path(__file__).parents[1] / "tests" / "unit" / "checks" / "promptfoo_corpus.yaml"


def _context(case: dict[str, Any]) -> CheckContext:
    generation = dict(case.get("generation") or {})
    if "logprobs" in generation:
        generation["logprobs"] = tuple(generation["logprobs"])
    return CheckContext(
        case["output"],
        Generation(case["output"], **generation),
        case.get("vars") or {},
        (),
        CORPUS.parent,
    )


def _ours(case: dict[str, Any], combined: bool) -> tuple[bool | None, float | None]:
    try:
        if combined:
            specs = [CheckSpec.model_validate(a) for a in case["assert"]]
            outcome = asyncio.run(score(specs, _context(case), case.get("threshold")))
            return outcome.passed, outcome.score
        result = asyncio.run(evaluate(CheckSpec.model_validate(case["assert"]), _context(case)))
    except CheckError:
        return None, None
    return result.passed, result.score


def main() -> None:
    corpus = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    rows = [(c, False) for c in corpus["cases"]] + [(c, True) for c in corpus["tests"]]
    verdicts = scores = scored = 0
    by_type: Counter[str] = Counter()
    disagree: list[str] = []
    for case, combined in rows:
        documented = case.get("promptfoo") or {"pass": case.get("pass"), "score": case.get("score")}
        passed, value = _ours(case, combined)
        kind = "test" if combined else split_type(case["assert"]["type"])[1]
        by_type[kind] += 1
        expected_pass = None if case.get("error") else documented["pass"]
        if passed == expected_pass:
            verdicts += 1
        else:
            disagree.append(f"  {kind}: {case['output'][:30]!r}: {case.get('deviation', '?')}")
        if documented.get("score") is not None and value is not None:
            scored += 1
            scores += abs(value - documented["score"]) < 1e-3
    print(f"{len(rows)} cases over {len(by_type) - 1} check types and {by_type['test']} combined")
    print(f"verdicts agreeing with promptfoo's documented ones: {verdicts}/{len(rows)}"
          f" ({verdicts / len(rows):.1%})")  # fmt: skip
    print(f"scores agreeing (of {scored} with a documented score): {scores}/{scored}")
    print("disagreements (all documented in docs/checks.md):")
    print("\n".join(disagree) or "  none")


if __name__ == "__main__":
    main()
