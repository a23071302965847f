"""The JSON checks: is-json, contains-json, json-schema, json-field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.checks.check_helpers import (
    CASE_ARGS,
    JSON_CASES,
    assert_negates,
    assert_scores,
    params,
)


@pytest.mark.parametrize(CASE_ARGS, params(JSON_CASES))
def test_scores(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    assert_scores(spec, output, generation, passed, score)


@pytest.mark.parametrize(CASE_ARGS, params(JSON_CASES))
def test_negation(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    assert_negates(spec, output, generation, passed)
