"""promptfoo's documented verdicts, run through promptsuite's checks unchanged.

The cases (``promptfoo_corpus.yaml``) are promptfoo assertions as a promptfoo config writes
them, each with the pass and score promptfoo's documentation gives; promptsuite must read
the spelling as it is and agree. A case marked ``deviation`` is a documented, deliberate
difference (docs/checks.md) and records promptsuite's own verdict.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptsuite._schema import CheckSpec
from promptsuite.checks import check_problems, evaluate, score
from promptsuite.errors import CheckError
from tests.unit.checks.check_helpers import make_ctx

CORPUS = yaml.safe_load((Path(__file__).parent / "promptfoo_corpus.yaml").read_text("utf-8"))


def _context(case: dict[str, Any]) -> Any:
    generation = dict(case.get("generation") or {})
    if "logprobs" in generation:
        generation["logprobs"] = tuple(generation["logprobs"])
    return make_ctx(case["output"], vars=case.get("vars"), **generation)


def _id(case: dict[str, Any]) -> str:
    asserts = case["assert"] if isinstance(case["assert"], list) else [case["assert"]]
    kinds = "+".join(a["type"] for a in asserts)
    return f"{kinds}-{'pass' if case.get('pass') else 'fail'}-{case['output'][:14]!r}"


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS["cases"]) + len(CORPUS["tests"]) >= 100


@pytest.mark.parametrize("case", CORPUS["cases"], ids=_id)
def test_assertion_verdict(case: dict[str, Any]) -> None:
    spec = CheckSpec.model_validate(case["assert"])
    if case.get("error"):
        problems = list(check_problems(spec))
        if not problems:
            with pytest.raises(CheckError):
                asyncio.run(evaluate(spec, _context(case)))
        return
    assert list(check_problems(spec)) == []
    result = asyncio.run(evaluate(spec, _context(case)))
    assert result.passed is case["pass"], result.reason
    if "score" in case:
        assert result.score == pytest.approx(case["score"], abs=1e-3), result.reason


@pytest.mark.parametrize("case", CORPUS["tests"], ids=_id)
def test_combined_verdict(case: dict[str, Any]) -> None:
    specs = [CheckSpec.model_validate(a) for a in case["assert"]]
    outcome = asyncio.run(score(specs, _context(case), case.get("threshold")))
    assert outcome.passed is case["pass"], [r.reason for r in outcome.results]
    assert outcome.score == pytest.approx(case["score"], abs=1e-3)
