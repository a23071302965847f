"""Unit tests for promptsuite.assertions: every check type, validation, graders, outcomes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import promptsuite.assertions as assertions
from promptsuite._schema import Expectation
from promptsuite.assertions import (
    CheckContext,
    CheckResult,
    case_outcome,
    evaluate,
    expectation_problems,
    known_types,
)
from promptsuite.errors import ExpectationError, ModelError
from promptsuite.models._base import GenerateRequest, Generation, Message, ModelSpec

HERE = Path(__file__).parent
MESSAGES = (Message("system", "Be brief."), Message("user", "Can I get my money back?"))


def make_ctx(
    output: str,
    *,
    suite_dir: Path = HERE,
    grade: Any = None,
    vars: dict[str, Any] | None = None,
    **generation: Any,
) -> CheckContext:
    return CheckContext(
        output=output,
        generation=Generation(text=output, **generation),
        vars=vars or {},
        messages=MESSAGES,
        suite_dir=suite_dir,
        grade=grade,
    )


def check(spec: dict[str, Any], output: str = "", **ctx: Any) -> CheckResult:
    """Evaluate an expectation written as in YAML (``schema``, not ``json_schema``)."""
    return asyncio.run(evaluate(Expectation.model_validate(spec), make_ctx(output, **ctx)))


def negated(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "type": "not-" + spec["type"]}


def problems(spec: dict[str, Any]) -> list[tuple[str | None, str]]:
    return list(expectation_problems(Expectation.model_validate(spec)))


SCHEMA = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "integer"}, "tags": {"type": "array"}},
}
NESTED = '{"a": {"b": [{"c": 1}, {"c": "two"}]}, "ok": true}'

# (expectation, output, generation fields, passed, score or None when only the pass matters)
CASES: list[tuple[dict[str, Any], str, dict[str, Any], bool, float | None]] = [
    ({"type": "equals", "value": "Hello"}, "  Hello\n", {}, True, 1.0),
    ({"type": "equals", "value": "Hello"}, "Hello!", {}, False, 0.0),
    ({"type": "equals", "value": {"a": [1, 2]}}, '{"a": [1, 2.0]}', {}, True, 1.0),
    ({"type": "equals", "value": {"a": 1}}, '{"a": true}', {}, False, 0.0),
    ({"type": "equals", "value": 42}, " 42 ", {}, True, 1.0),
    ({"type": "equals", "value": 42}, "forty-two", {}, False, 0.0),
    ({"type": "equals", "value": None}, "null", {}, True, 1.0),
    ({"type": "contains", "value": "refund"}, "We issue a refund.", {}, True, 1.0),
    ({"type": "contains", "value": "Refund"}, "We issue a refund.", {}, False, 0.0),
    ({"type": "contains", "value": 42}, "answer: 42", {}, True, 1.0),
    ({"type": "icontains", "value": "REFUND"}, "We issue a refund.", {}, True, 1.0),
    ({"type": "icontains", "value": "credit"}, "We issue a refund.", {}, False, 0.0),
    ({"type": "contains-any", "value": ["cat", "dog"]}, "a hotdog", {}, True, 1.0),
    ({"type": "contains-any", "value": ["cat", "dog"]}, "a bird", {}, False, 0.0),
    ({"type": "icontains-any", "value": ["CAT", "DOG"]}, "my cat", {}, True, 1.0),
    ({"type": "icontains-any", "value": ["CAT"]}, "my bird", {}, False, 0.0),
    ({"type": "contains-all", "value": ["a", "b"]}, "a and b", {}, True, 1.0),
    ({"type": "contains-all", "value": ["alpha", "beta", "gamma", "delta"]}, "alpha beta", {},
     False, 0.5),
    ({"type": "contains-all", "value": ["alpha", "beta", "gamma", "delta"], "threshold": 0.5},
     "alpha beta", {}, True, 0.5),
    ({"type": "icontains-all", "value": ["ALPHA", "Beta"]}, "alpha beta", {}, True, 1.0),
    ({"type": "icontains-all", "value": ["ALPHA", "gamma"]}, "alpha beta", {}, False, 0.5),
    ({"type": "starts-with", "value": "Yes"}, "  Yes, you can.", {}, True, 1.0),
    ({"type": "starts-with", "value": "Yes"}, "No, sorry.", {}, False, 0.0),
    ({"type": "regex", "value": r"\d{3}-\d{4}"}, "Call 555-1234 now", {}, True, 1.0),
    ({"type": "regex", "value": "(?i)^hello"}, "HELLO there", {}, True, 1.0),
    ({"type": "regex", "value": r"^\d+$"}, "12a", {}, False, 0.0),
    ({"type": "length", "min": 3, "max": 5}, "abcd", {}, True, 1.0),
    ({"type": "length", "min": 3, "max": 5}, "abcdef", {}, False, 0.0),
    ({"type": "length", "min": 10}, "short", {}, False, 0.0),
    ({"type": "word-count", "min": 2, "max": 3}, "one two", {}, True, 1.0),
    ({"type": "word-count", "max": 3}, "one two three four", {}, False, 0.0),
    ({"type": "levenshtein", "value": "kitten"}, "sitting", {}, True, 1 - 3 / 7),
    ({"type": "levenshtein", "value": "kitten", "threshold": 2}, "sitting", {}, False, 1 - 3 / 7),
    ({"type": "levenshtein", "value": "same"}, " same\n", {}, True, 1.0),
    ({"type": "similar", "value": "hello world"}, "hello world!", {}, True, None),
    ({"type": "similar", "value": "abc", "threshold": 0.5}, "xyz", {}, False, 0.0),
    ({"type": "is-json"}, '{"a": 1}', {}, True, 1.0),
    ({"type": "is-json"}, '```json\n{"a": 1}\n```', {}, True, 1.0),
    ({"type": "is-json"}, "[1, 2]", {}, True, 1.0),
    ({"type": "is-json"}, 'Here it is: {"a": 1}', {}, False, 0.0),
    ({"type": "is-json"}, "not json", {}, False, 0.0),
    ({"type": "is-json", "schema": SCHEMA}, '{"id": 3}', {}, True, 1.0),
    ({"type": "is-json", "schema": SCHEMA}, '{"id": "3"}', {}, False, 0.0),
    ({"type": "contains-json"}, 'Sure: {"a": 1} hope it helps', {}, True, 1.0),
    ({"type": "contains-json"}, 'Sure:\n```json\n[1, 2]\n```\n', {}, True, 1.0),
    ({"type": "contains-json"}, "no json {here", {}, False, 0.0),
    ({"type": "contains-json", "schema": SCHEMA}, 'x {"y": 1} then {"id": 7}', {}, True, 1.0),
    ({"type": "contains-json", "schema": SCHEMA}, 'x {"y": 1}', {}, False, 0.0),
    ({"type": "json-schema", "schema": SCHEMA}, '{"id": 3, "tags": []}', {}, True, 1.0),
    ({"type": "json-schema", "value": SCHEMA}, '{"id": 3}', {}, True, 1.0),
    ({"type": "json-schema", "schema": SCHEMA}, '{"id": "x", "tags": 1}', {}, False, 0.0),
    ({"type": "json-schema", "schema": SCHEMA}, "I cannot do that.", {}, False, 0.0),
    ({"type": "json-field", "path": "a.b[0].c", "value": 1}, NESTED, {}, True, 1.0),
    ({"type": "json-field", "path": "$.a.b[-1].c", "value": "two"}, NESTED, {}, True, 1.0),
    ({"type": "json-field", "path": "a.b.1.c", "value": "two"}, NESTED, {}, True, 1.0),
    ({"type": "json-field", "path": '["ok"]', "value": True}, NESTED, {}, True, 1.0),
    ({"type": "json-field", "path": "ok", "value": 1}, NESTED, {}, False, 0.0),
    ({"type": "json-field", "path": "a.b[0].c", "value": 2}, NESTED, {}, False, 0.0),
    ({"type": "json-field", "path": "a.b[5].c", "value": 1}, NESTED, {}, False, 0.0),
    ({"type": "json-field", "path": "a.x"}, NESTED, {}, False, 0.0),
    ({"type": "json-field", "path": "a.b"}, NESTED, {}, True, 1.0),
    ({"type": "json-field", "path": "a", "value": 1}, "not json", {}, False, 0.0),
    ({"type": "latency", "max": 500}, "x", {"latency_s": 0.2}, True, 1.0),
    ({"type": "latency", "max": 500}, "x", {"latency_s": 0.8}, False, 0.0),
    ({"type": "tokens", "max": 10}, "x", {"completion_tokens": 5, "prompt_tokens": 50}, True, 1.0),
    ({"type": "tokens", "max": 10}, "x", {"completion_tokens": 20, "prompt_tokens": 5}, False, 0.0),
    ({"type": "tokens", "value": "total", "min": 30}, "x",
     {"prompt_tokens": 20, "completion_tokens": 15}, True, 1.0),
    ({"type": "tokens", "value": "prompt", "max": 10}, "x",
     {"prompt_tokens": 20, "completion_tokens": 15}, False, 0.0),
    ({"type": "cost", "value": {"prompt": 1.0, "completion": 2.0}, "max": 0.001}, "x",
     {"prompt_tokens": 100, "completion_tokens": 200}, True, 1.0),
    ({"type": "cost", "value": {"prompt": 1.0, "completion": 2.0}, "max": 0.0001}, "x",
     {"prompt_tokens": 100, "completion_tokens": 200}, False, 0.0),
]  # fmt: skip


def case_id(case: tuple[dict[str, Any], str, dict[str, Any], bool, float | None]) -> str:
    spec, output, _, passed, _ = case
    return f"{spec['type']}-{'pass' if passed else 'fail'}-{output[:12]!r}"


CASE_PARAMS = [pytest.param(*case, id=case_id(case)) for case in CASES]


@pytest.mark.parametrize(("spec", "output", "generation", "passed", "score"), CASE_PARAMS)
def test_check(
    spec: dict[str, Any],
    output: str,
    generation: dict[str, Any],
    passed: bool,
    score: float | None,
) -> None:
    assert problems(spec) == []
    result = check(spec, output, **generation)
    assert result.passed is passed, result.reason
    assert 0.0 <= result.score <= 1.0
    if score is not None:
        assert result.score == pytest.approx(score)
    assert result.type == spec["type"]
    assert result.reason.startswith("expected output to ")
    assert "\n" not in result.reason


@pytest.mark.parametrize(("spec", "output", "generation", "passed", "score"), CASE_PARAMS)
def test_negated_check(
    spec: dict[str, Any],
    output: str,
    generation: dict[str, Any],
    passed: bool,
    score: float | None,
) -> None:
    plain = check(spec, output, **generation)
    result = check(negated(spec), output, **generation)
    assert result.passed is not passed
    assert result.score == pytest.approx(1.0 - plain.score)
    assert result.type == "not-" + spec["type"]
    assert result.reason.startswith("expected output not to ")


def test_every_type_is_covered_and_documented() -> None:
    covered = {spec["type"] for spec, *_ in CASES} | {"python", "judge", "llm-rubric"}
    assert covered == set(known_types())
    doc = assertions.__doc__ or ""
    for type_ in known_types():
        assert f"    {type_}:" in doc, type_


def test_known_types_are_sorted_with_aliases() -> None:
    types = known_types()
    assert types == sorted(types)
    assert {"llm-rubric", "contains-json", "starts-with", "regex", "judge"} <= set(types)
    assert not any(t.startswith("not-") for t in types)
    assert sorted(assertions.__all__) == assertions.__all__


@pytest.mark.parametrize(
    ("spec", "output", "fragments"),
    [
        ({"type": "contains", "value": "refund"}, "No way.", ["contain 'refund'", "'No way.'"]),
        ({"type": "regex", "value": r"\d+"}, "abc", ["match /\\d+/", "no match"]),
        ({"type": "length", "max": 2}, "abcd", ["at most 2 characters", "got 4"]),
        ({"type": "json-field", "path": "a.z", "value": 1}, NESTED, ["$.a.z", "no key 'z'"]),
        ({"type": "json-field", "path": "a.b[9]"}, NESTED, ["has 2 items, no index 9"]),
        ({"type": "json-field", "path": "ok.x"}, NESTED, ["$.ok is the value 'true'"]),
        ({"type": "is-json"}, 'Sure: {"a": 1}', ["use contains-json"]),
        ({"type": "json-schema", "schema": SCHEMA}, '{"id": "x", "tags": 1}',
         ["2 schema errors", "$.id: 'x' is not of type 'integer'", "$.tags"]),
        ({"type": "contains-all", "value": ["a", "zz"]}, "a", ["found 1/2", 'missing \'["zz"]\'']),
        ({"type": "latency", "max": 100}, "x", ["at most 100 ms", "took 250 ms"]),
    ],
)  # fmt: skip
def test_reason_says_what_was_expected_and_seen(
    spec: dict[str, Any], output: str, fragments: list[str]
) -> None:
    result = check(spec, output, latency_s=0.25)
    for fragment in fragments:
        assert fragment in result.reason


def test_reason_truncates_long_output_to_one_line() -> None:
    result = check({"type": "contains", "value": "needle"}, "hay\n" * 500)
    assert "\n" not in result.reason
    assert "…" in result.reason
    assert len(result.reason) < 160


def test_latency_of_cached_generation_says_so() -> None:
    result = check({"type": "latency", "max": 1000}, "x", latency_s=0.5, cached=True)
    assert result.passed
    assert "recorded when cached" in result.reason


def test_result_carries_weight_and_metric() -> None:
    result = check({"type": "contains", "value": "a", "weight": 2.5, "metric": "tone"}, "a")
    assert (result.weight, result.metric) == (2.5, "tone")
    assert result.to_dict() == {
        "type": "contains",
        "passed": True,
        "score": 1.0,
        "reason": result.reason,
        "weight": 2.5,
        "metric": "tone",
    }


@pytest.mark.parametrize(
    ("spec", "generation", "message"),
    [
        ({"type": "contans", "value": "x"}, {}, "unknown check type 'contans'"),
        ({"type": "contains", "value": ["x"]}, {}, "needs a string value"),
        ({"type": "contains-any", "value": "x"}, {}, "needs a list of strings"),
        ({"type": "regex", "value": "("}, {}, "is invalid"),
        ({"type": "length"}, {}, "needs min or max"),
        ({"type": "json-field", "path": "a..b"}, {}, "cannot read path"),
        ({"type": "tokens", "max": 5}, {}, "reported none"),
        ({"type": "cost", "value": {"prompt": 1}, "max": 1}, {}, "reported none"),
        ({"type": "cost", "value": {"input": 1}, "max": 1}, {"prompt_tokens": 1}, "per 1M"),
        ({"type": "latency"}, {}, "needs max"),
        ({"type": "judge", "value": "polite"}, {}, "needs a grader model"),
    ],
)
def test_evaluate_raises_when_check_cannot_run(
    spec: dict[str, Any], generation: dict[str, Any], message: str
) -> None:
    with pytest.raises(ExpectationError, match=message.replace("(", r"\(")):
        check(spec, "output", **generation)


# --- load-time validation -------------------------------------------------------------------

VALID: list[dict[str, Any]] = [
    {"type": "contains", "value": "x", "weight": 0, "metric": "m"},
    {"type": "not-regex", "value": "(?i)sorry"},
    {"type": "equals", "value": None},
    {"type": "contains-all", "value": ["a", "b"], "threshold": 0.5},
    {"type": "is-json", "schema": SCHEMA},
    {"type": "json-schema", "value": SCHEMA},
    {"type": "json-field", "path": "$.a.b[0]['x.y']"},
    {"type": "length", "min": 1, "max": 1},
    {"type": "levenshtein", "value": "ref", "threshold": 12},
    {"type": "tokens", "value": "total", "max": 100},
    {"type": "cost", "value": {"completion": 0.6}, "max": 0.01},
    {"type": "latency", "max": 2000},
    {"type": "python", "value": "pkg.checks:is_polite", "threshold": 0.5},
    {"type": "judge", "rubric": "Is polite", "grader": "openai:gpt-4o-mini"},
    {"type": "llm-rubric", "value": "Is polite", "grader": {"provider": "local"}},
]


@pytest.mark.parametrize("spec", VALID, ids=lambda s: s["type"])
def test_valid_expectations_have_no_problems(spec: dict[str, Any]) -> None:
    assert problems(spec) == []


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        ({"type": "contans", "value": "x"}, "type", "did you mean 'contains'?"),
        ({"type": "not-icontain", "value": "x"}, "type", "did you mean 'not-icontains'?"),
        ({"type": "Regex", "value": "x"}, "type", "did you mean 'regex'?"),
        ({"type": "zzz"}, "type", "Known types (any may be prefixed with 'not-'): contains"),
        ({"type": "contains"}, "value", "contains needs a value"),
        ({"type": "contains", "value": ["a"]}, "value", "needs a string value"),
        ({"type": "equals"}, "value", "equals needs a value"),
        ({"type": "contains-any", "value": []}, "value", "non-empty list of strings"),
        ({"type": "contains-all", "value": "a,b"}, "value", "non-empty list of strings"),
        ({"type": "regex", "value": "(unclosed"}, "value", "invalid regular expression"),
        ({"type": "regex", "value": "a{2,1}"}, "value", "invalid regular expression"),
        ({"type": "json-schema", "schema": {"type": "objekt"}}, "schema", "invalid JSON Schema"),
        ({"type": "json-schema", "value": {"required": "id"}}, "value", "invalid JSON Schema"),
        ({"type": "json-schema", "value": "object"}, "value", "must be a mapping"),
        ({"type": "json-schema"}, "schema", "needs a JSON Schema"),
        ({"type": "json-schema", "value": SCHEMA, "schema": SCHEMA}, "value", "not both"),
        ({"type": "is-json", "schema": {"type": 5}}, "schema", "invalid JSON Schema"),
        ({"type": "json-field"}, "path", "needs a path"),
        ({"type": "json-field", "path": "a..b"}, "path", "cannot read path"),
        ({"type": "json-field", "path": "a[x]"}, "path", "cannot read path"),
        ({"type": "python", "value": "checks.is_polite"}, "value", "'module:function'"),
        ({"type": "python", "value": "checks:is polite"}, "value", "'module:function'"),
        ({"type": "python"}, "value", "'module:function'"),
        ({"type": "length", "min": 5, "max": 2}, "min", "min (5) is greater than max (2)"),
        ({"type": "word-count", "min": 5, "max": 2}, "min", "greater than max"),
        ({"type": "length"}, None, "length needs min, max or both"),
        ({"type": "length", "min": -1}, "min", "must not be negative"),
        ({"type": "similar", "value": "x", "threshold": 1.5}, "threshold", "between 0 and 1"),
        ({"type": "judge", "value": "x", "threshold": -0.1}, "threshold", "between 0 and 1"),
        ({"type": "python", "value": "m:f", "threshold": 2}, "threshold", "between 0 and 1"),
        ({"type": "levenshtein", "value": "x", "threshold": -1}, "threshold", "edit distance"),
        ({"type": "contains", "value": "x", "path": "a"}, "path", "no meaning for contains"),
        ({"type": "contains", "value": "x", "threshold": 0.5}, "threshold", "no meaning"),
        ({"type": "is-json", "value": "x"}, "value", "'value' has no meaning for is-json"),
        ({"type": "not-length", "max": 3, "rubric": "r"}, "rubric", "no meaning for not-length"),
        ({"type": "latency", "min": 1}, "min", "no meaning for latency"),
        ({"type": "latency"}, "max", "latency needs max (milliseconds)"),
        ({"type": "cost", "value": {"prompt": 1}}, "max", "cost needs max (USD)"),
        ({"type": "cost", "value": 3, "max": 1}, "value", "{prompt: USD, completion: USD}"),
        ({"type": "cost", "value": {"input": 3}, "max": 1}, "value", "{prompt: USD"),
        ({"type": "tokens", "value": "output", "max": 1}, "value", "one of completion"),
        ({"type": "tokens"}, None, "needs min, max or both"),
        ({"type": "judge"}, "rubric", "needs a rubric"),
        ({"type": "judge", "rubric": "a", "value": "b"}, "rubric", "not both"),
        ({"type": "judge", "rubric": "a", "grader": {"model": "x"}}, "grader", "provider"),
        ({"type": "judge", "rubric": "a", "grader": ":x"}, "grader", "no provider"),
    ],
)  # fmt: skip
def test_expectation_problems(spec: dict[str, Any], field: str | None, fragment: str) -> None:
    found = problems(spec)
    assert any(f == field and fragment in m for f, m in found), found


def test_problems_do_not_import_user_modules() -> None:
    name = f"never_imported_{uuid.uuid4().hex}"
    assert problems({"type": "python", "value": f"{name}:check"}) == []
    assert name not in sys.modules


# --- python ---------------------------------------------------------------------------------

PY_MODULE = """
    import asyncio

    def true_(output, context):
        return True

    def false_(output, context):
        return False

    def number(output, context):
        return 0.7

    def zero(output, context):
        return 0

    def mapping(output, context):
        return {"pass": True, "score": 0.9, "reason": "fine"}

    def mapping_fail(output, context):
        return {"pass": False, "score": 0.2, "reason": "bad tone"}

    def mapping_pass_only(output, context):
        return {"PASS": True}

    def mapping_score_only(output, context):
        return {"score": 0.3, "reason": "meh"}

    def pair(output, context):
        return (False, "too short")

    def score_pair(output, context):
        return (0.6, "partly")

    def uses_context(output, context):
        return (
            context["vars"]["name"] in output
            and context["messages"][1] == {"role": "user", "content": "Can I get my money back?"}
            and context["generation"]["completion_tokens"] == 7
        )

    async def coroutine(output, context):
        await asyncio.sleep(0)
        return 1.0

    def junk_none(output, context):
        return None

    def junk_str(output, context):
        return "yes"

    def junk_list(output, context):
        return [True]

    def junk_dict(output, context):
        return {"verdict": "good"}

    def junk_pass(output, context):
        return {"pass": "yes"}

    def junk_range(output, context):
        return 7

    def junk_nan(output, context):
        return float("nan")

    def raises(output, context):
        raise ValueError("boom")

    not_callable = 3
"""


@pytest.fixture
def py_module(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Write PY_MODULE as a uniquely named module in tmp_path; return a ref builder."""
    name = f"checks_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(PY_MODULE), encoding="utf-8")
    yield lambda function: f"{name}:{function}"
    sys.modules.pop(name, None)


def run_python(ref: str, tmp_path: Path, threshold: float | None = None, **ctx: Any) -> CheckResult:
    spec: dict[str, Any] = {"type": "python", "value": ref}
    if threshold is not None:
        spec["threshold"] = threshold
    return check(spec, "Hi Ada", suite_dir=tmp_path, **ctx)


@pytest.mark.parametrize(
    ("function", "threshold", "passed", "score", "reason"),
    [
        ("true_", None, True, 1.0, None),
        ("false_", None, False, 0.0, None),
        ("number", None, True, 0.7, None),  # promptfoo: a bare number passes when > 0
        ("zero", None, False, 0.0, None),
        ("number", 0.8, False, 0.7, "threshold 0.8"),
        ("number", 0.7, True, 0.7, None),
        ("mapping", None, True, 0.9, "fine"),
        ("mapping", 0.95, False, 0.9, "fine"),
        ("mapping_fail", None, False, 0.2, "bad tone"),
        ("mapping_pass_only", None, True, 1.0, None),
        ("mapping_score_only", None, True, 0.3, "meh"),
        ("mapping_score_only", 0.5, False, 0.3, "meh"),
        ("pair", None, False, 0.0, "too short"),
        ("score_pair", 0.5, True, 0.6, "partly"),
        ("coroutine", None, True, 1.0, None),
    ],
)
def test_python_accepted_returns(
    py_module: Callable[[str], str],
    tmp_path: Path,
    function: str,
    threshold: float | None,
    passed: bool,
    score: float,
    reason: str | None,
) -> None:
    result = run_python(py_module(function), tmp_path, threshold)
    assert result.passed is passed
    assert result.score == pytest.approx(score)
    assert "pass python check" in result.reason
    if reason:
        assert reason in result.reason


def test_python_receives_output_and_context(
    py_module: Callable[[str], str], tmp_path: Path
) -> None:
    result = run_python(py_module("uses_context"), tmp_path, vars={"name": "Ada"},
                        completion_tokens=7)  # fmt: skip
    assert result.passed, result.reason


def test_python_negated(py_module: Callable[[str], str], tmp_path: Path) -> None:
    result = check({"type": "not-python", "value": py_module("true_")}, "x", suite_dir=tmp_path)
    assert (result.passed, result.score) == (False, 0.0)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("junk_none", "returned 'None'"),
        ("junk_str", "returned \"'yes'\""),
        ("junk_list", "expected a bool, a score 0..1"),
        ("junk_dict", "without pass or score"),
        ("junk_pass", "pass='yes'"),
        ("junk_range", "returned score 7; expected 0..1"),
        ("junk_nan", "returned score nan"),
        ("raises", "raised ValueError: boom"),
        ("not_callable", "has no function 'not_callable'"),
        ("missing", "has no function 'missing'"),
    ],
)
def test_python_junk_is_an_error(
    py_module: Callable[[str], str], tmp_path: Path, function: str, message: str
) -> None:
    with pytest.raises(ExpectationError, match=message.replace("(", r"\(")):
        run_python(py_module(function), tmp_path)


def test_python_import_errors(tmp_path: Path) -> None:
    name = f"broken_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('bad module')\n", encoding="utf-8")
    path_before = list(sys.path)
    with pytest.raises(ExpectationError, match=r"cannot import .*RuntimeError: bad module"):
        run_python(f"{name}:f", tmp_path)
    with pytest.raises(ExpectationError, match="cannot import 'no_such_module_"):
        run_python(f"no_such_module_{uuid.uuid4().hex}:f", tmp_path)
    assert sys.path == path_before


def test_python_imports_packages_relative_to_suite_dir(tmp_path: Path) -> None:
    package = f"pkg_{uuid.uuid4().hex}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / package / "rules.py").write_text(
        "def short(output, context):\n    return len(output) < 10\n", encoding="utf-8"
    )
    try:
        assert run_python(f"{package}.rules:short", tmp_path).passed
        assert sys.path.count(str(tmp_path)) == 0
    finally:
        sys.modules.pop(f"{package}.rules", None)
        sys.modules.pop(package, None)


@pytest.mark.parametrize(
    "ref",
    [
        "helpers_for_python_check:mentions_refund",
        "tests.unit.helpers_for_python_check:mentions_refund",
    ],
)
def test_python_imports_from_suite_dir_or_sys_path(ref: str, tmp_path: Path) -> None:
    suite_dir = HERE if ref.startswith("helpers") else tmp_path
    result = check({"type": "python", "value": ref}, "Refund issued.", suite_dir=suite_dir)
    assert result.passed
    assert "mentions a refund" in result.reason


def test_python_refuses_a_same_named_module_from_another_suite(tmp_path: Path) -> None:
    name = f"clash_{uuid.uuid4().hex}"
    first, second = tmp_path / "one", tmp_path / "two"
    for directory, answer in ((first, "True"), (second, "False")):
        directory.mkdir()
        (directory / f"{name}.py").write_text(
            f"def f(output, context):\n    return {answer}\n", encoding="utf-8"
        )
    try:
        assert run_python(f"{name}:f", first).passed
        with pytest.raises(ExpectationError, match="already imported"):
            run_python(f"{name}:f", second)
    finally:
        sys.modules.pop(name, None)


# --- judge ----------------------------------------------------------------------------------


class FakeGrader:
    """A ``grade`` callable that records its requests and answers with a fixed reply."""

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.calls: list[tuple[ModelSpec | None, GenerateRequest]] = []

    async def __call__(self, spec: ModelSpec | None, request: GenerateRequest) -> Generation:
        self.calls.append((spec, request))
        if isinstance(self.reply, Exception):
            raise self.reply
        return Generation(text=self.reply)


def judge(
    reply: str | Exception, output: str = "Of course, here is how.", **spec: Any
) -> tuple[CheckResult, FakeGrader]:
    grader = FakeGrader(reply)
    spec = {"type": "judge", "rubric": "The reply is polite.", **spec}
    return check(spec, output, grade=grader), grader


@pytest.mark.parametrize(
    ("reply", "threshold", "passed", "score"),
    [
        ('{"reason": "polite", "score": 0.9, "pass": true}', None, True, 0.9),
        ('```json\n{"reason": "rude", "score": 0.1, "pass": false}\n```', None, False, 0.1),
        ('Here is my grade: {"Reason": "ok", "Score": "8/10", "PASS": "yes"} Hope it helps.',
         None, True, 0.8),
        ('Thinking {not json}. Final: {"pass": "no", "reason": "curt"}', None, False, 0.0),
        ('{"pass": true, "reason": "fine"}', None, True, 1.0),
        ('{"pass": true}', 0.5, True, 1.0),
        ('{"score": 0.7}', None, True, 0.7),
        ('{"score": 0.3}', None, False, 0.3),
        ('{"score": "0.6"}', 0.7, False, 0.6),
        ('{"score": "80%"}', None, True, 0.8),
        ('{"score": 8, "pass": true}', None, True, 0.8),
        ('{"reason": "meh", "score": 0.4, "pass": true}', None, True, 0.4),
        ('{"reason": "meh", "score": 0.4, "pass": true}', 0.5, False, 0.4),
        ("Score: 9/10\nReason: warm and clear", None, True, 0.9),
        ("Verdict: fail. Reason: dismissive", None, False, 0.0),
    ],
)  # fmt: skip
def test_judge_reads_replies(
    reply: str, threshold: float | None, passed: bool, score: float
) -> None:
    extra: dict[str, Any] = {} if threshold is None else {"threshold": threshold}
    result, _ = judge(reply, **extra)
    assert result.passed is passed
    assert result.score == pytest.approx(score)
    assert result.reason.startswith("expected output to satisfy the rubric 'The reply is polite.'")


@pytest.mark.parametrize(
    "reply",
    ["I think it is fine.", "", '{"verdict": "good"}', '{"score": 250}', '{"pass": "maybe"}'],
)
def test_judge_unreadable_reply_is_an_error(reply: str) -> None:
    with pytest.raises(ExpectationError, match="cannot read the judge grader's reply") as info:
        judge(reply)
    assert repr(reply[:200]) in str(info.value)


def test_judge_error_quotes_only_the_start_of_a_long_reply() -> None:
    with pytest.raises(ExpectationError) as info:
        judge("blah " * 200)
    assert len(str(info.value)) < 320


def test_judge_request() -> None:
    result, grader = judge('{"reason": "ok", "score": 1, "pass": true}', output="THE OUTPUT")
    assert result.passed
    [(spec, request)] = grader.calls
    assert spec is None  # the run's default grader
    params = request.params
    assert params.temperature == 0
    assert params.max_tokens == 300
    assert params.json_schema is not None
    assert set(params.json_schema["required"]) == {"reason", "score", "pass"}
    assert params.json_schema["properties"]["pass"] == {"type": "boolean"}
    system, user = request.messages
    assert system.role == "system" and "JSON" in system.content
    assert user.role == "user"
    for text in ("The reply is polite.", "Be brief.", "Can I get my money back?", "THE OUTPUT"):
        assert text in user.content
    assert user.content.index("money back") < user.content.index("THE OUTPUT")


@pytest.mark.parametrize(
    ("grader", "expected"),
    [
        ("openai:gpt-4o-mini", ModelSpec(provider="openai", model="gpt-4o-mini")),
        ({"provider": "local", "label": "tiny"}, ModelSpec(provider="local", label="tiny")),
    ],
)
def test_judge_passes_the_grader_spec(grader: Any, expected: ModelSpec) -> None:
    _, fake = judge('{"pass": true}', grader=grader)
    assert fake.calls[0][0] == expected


def test_judge_rubric_from_value_and_llm_rubric_alias() -> None:
    grader = FakeGrader('{"pass": false, "score": 0.2, "reason": "rude"}')
    result = check({"type": "llm-rubric", "value": "Be kind"}, "go away", grade=grader)
    assert result.passed is False
    assert result.score == pytest.approx(0.2)
    assert "Be kind" in grader.calls[0][1].messages[1].content


def test_judge_negated() -> None:
    grader = FakeGrader('{"pass": true, "score": 0.9, "reason": "mentions pricing"}')
    result = check({"type": "not-judge", "value": "Mentions pricing"}, "x", grade=grader)
    assert result.passed is False
    assert result.score == pytest.approx(0.1)
    assert result.reason.startswith("expected output not to satisfy the rubric")


def test_judge_grader_failure_is_an_expectation_error() -> None:
    with pytest.raises(ExpectationError, match="judge grader openai:gpt-x failed: down"):
        judge(ModelError("down"), grader="openai:gpt-x")


# --- case outcome ---------------------------------------------------------------------------


def result(passed: bool, score: float | None = None, weight: float = 1.0) -> CheckResult:
    return CheckResult(
        type="contains",
        passed=passed,
        score=float(passed) if score is None else score,
        reason="r",
        weight=weight,
    )


@pytest.mark.parametrize(
    ("results", "threshold", "expected"),
    [
        ([], None, (True, 1.0)),
        ([], 0.9, (True, 1.0)),
        ([result(True), result(True)], None, (True, 1.0)),
        ([result(True), result(False)], None, (False, 0.5)),
        ([result(True), result(False, weight=0)], None, (True, 1.0)),
        ([result(False, weight=0)], None, (True, 1.0)),
        ([result(False, weight=0)], 0.9, (True, 1.0)),
        ([result(True, weight=3), result(False)], None, (False, 0.75)),
        ([result(True, weight=3), result(False)], 0.75, (True, 0.75)),
        ([result(True, weight=3), result(False)], 0.8, (False, 0.75)),
        ([result(True), result(False)], 0.5, (True, 0.5)),
        ([result(True, 0.7), result(True, 0.7), result(True, 0.7)], 0.7, (True, 0.7)),
        ([result(False, 0.4), result(True, 1.0)], 0.6, (True, 0.7)),
    ],
)
def test_case_outcome(
    results: list[CheckResult], threshold: float | None, expected: tuple[bool, float]
) -> None:
    passed, score = case_outcome(results, threshold)
    assert passed is expected[0]
    assert score == pytest.approx(expected[1])
