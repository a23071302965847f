"""The markup and SQL checks: XML, HTML, SQL, whole or contained."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.checks.check_helpers import (
    CASE_ARGS,
    MARKUP_CASES,
    assert_negates,
    assert_scores,
    params,
)


@pytest.mark.parametrize(CASE_ARGS, params(MARKUP_CASES))
def test_scores(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    assert_scores(spec, output, generation, passed, score)


@pytest.mark.parametrize(CASE_ARGS, params(MARKUP_CASES))
def test_negation(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    assert_negates(spec, output, generation, passed)
