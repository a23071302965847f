"""The generation checks: latency, tokens, cost."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.checks.check_helpers import (
    CASE_ARGS,
    GENERATION_CASES,
    assert_negates,
    assert_scores,
    params,
)


@pytest.mark.parametrize(CASE_ARGS, params(GENERATION_CASES))
def test_scores(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    assert_scores(spec, output, generation, passed, score)


@pytest.mark.parametrize(CASE_ARGS, params(GENERATION_CASES))
def test_negation(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    assert_negates(spec, output, generation, passed)


def test_latency_of_cached_generation_says_so() -> None:
    from tests.unit.checks.check_helpers import check

    result = check({"type": "latency", "max": 1000}, "x", latency_s=0.5, cached=True)
    assert result.passed
    assert "recorded when cached" in result.reason
