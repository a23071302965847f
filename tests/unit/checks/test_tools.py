"""The tool-call checks: tool-called, tool-args, tool-args-exact, tool-order, tool-args-valid."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.checks.check_helpers import (
    CASE_ARGS,
    TOOL_CASES,
    assert_negates,
    assert_scores,
    check,
    params,
    problems,
)


@pytest.mark.parametrize(CASE_ARGS, params(TOOL_CASES))
def test_scores(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    assert_scores(spec, output, generation, passed, score)


@pytest.mark.parametrize(CASE_ARGS, params(TOOL_CASES))
def test_negation(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    assert_negates(spec, output, generation, passed)


def test_a_reply_without_calls_is_quoted_in_the_reason() -> None:
    result = check({"type": "tool-called", "value": "lookup_order"}, "Your order shipped.")
    assert (
        result.reason
        == (
            "expected output to call lookup_order; got no tool calls; the reply was "
            "'Your order shipped.'"
        )
        or "no tool calls; the reply was" in result.reason
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "tool-called", "value": ["a"]}, "give the tool's name"),
        ({"type": "tool-args", "value": {"arguments": {}}}, "expected {name: tool"),
        ({"type": "tool-args", "value": "lookup_order"}, "give the arguments' JSON Schema"),
        ({"type": "tool-args", "value": {"name": "x", "args": {}}}, "give the expected arguments"),
        ({"type": "tool-args", "value": {"name": "x", "arguments": 3}}, "must be a mapping"),
        ({"type": "tool-args", "value": "x", "schema": {"type": 3}}, "invalid JSON Schema"),
        ({"type": "tool-order", "value": "a"}, "list the tool names"),
        ({"type": "tool-args-valid", "value": "x"}, "has no meaning for tool-args-valid"),
    ],
)
def test_malformed_tool_checks_are_refused_at_load(spec: dict[str, Any], message: str) -> None:
    assert any(message in text for _, text in problems(spec)), problems(spec)
