"""Load-time validation of checks: each problem names its field and what is expected."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest

from tests.unit.checks.check_helpers import SCHEMA, problems

VALID: list[dict[str, Any]] = [
    {"type": "contains", "value": "x", "weight": 0, "metric": "m"},
    {"type": "not-regex", "value": "(?i)sorry"},
    {"type": "equals", "value": None},
    {"type": "contains-all", "value": ["a", "b"]},
    {"type": "contains-all", "value": "a, b"},
    {"type": "is-json", "value": SCHEMA},
    {"type": "latency", "threshold": 500},
    {"type": "word-count", "value": {"min": 1, "max": 3}},
    {"type": "python", "value": "len(output) > 3"},
    {"type": "python", "value": "file://checks.py:polite"},
    {"type": "similar", "value": ["a", "b"], "provider": "local"},
    {"type": "assert-set", "threshold": 0.5, "assert": [{"type": "contains", "value": "x"}]},
    {"type": "contains", "value": "x", "transform": "output.lower()"},
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
def test_valid_checks_have_no_problems(spec: dict[str, Any]) -> None:
    assert problems(spec) == []


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        ({"type": "contans", "value": "x"}, "type", "did you mean 'contains'?"),
        ({"type": "not-icontain", "value": "x"}, "type", "did you mean 'not-icontains'?"),
        ({"type": "Regex", "value": "x"}, "type", "did you mean 'regex'?"),
        ({"type": "zzz"}, "type", "(any may be prefixed with 'not-'): answer-relevance"),
        ({"type": "contains"}, "value", "contains needs a value"),
        ({"type": "contains", "value": ["a"]}, "value", "needs a non-empty string"),
        ({"type": "contains", "value": ""}, "value", "needs a non-empty string"),
        ({"type": "equals"}, "value", "equals needs a value"),
        ({"type": "contains-any", "value": []}, "value", "non-empty list of strings"),
        ({"type": "contains-all", "value": '"a, b'}, "value", "non-empty list of strings"),
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
        ({"type": "python", "value": "output ==="}, "value", "does not parse"),
        ({"type": "python", "value": "checks:is polite"}, "value", "does not parse"),
        ({"type": "python"}, "value", "'module:function'"),
        ({"type": "contains", "value": "x", "transform": "output.("}, "transform", "parse"),
        ({"type": "assert-set"}, "assert", "needs assert"),
        ({"type": "assert-set", "assert": [{"type": "contains"}]}, "assert", "check 1"),
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
        ({"type": "is-json", "value": "x"}, "value", "must be a JSON Schema mapping"),
        ({"type": "is-json", "value": SCHEMA, "schema": SCHEMA}, "value", "not both"),
        ({"type": "not-length", "max": 3, "rubric": "r"}, "rubric", "no meaning for not-length"),
        ({"type": "latency", "min": 1}, "min", "no meaning for latency"),
        ({"type": "latency"}, "max", "latency needs max (milliseconds"),
        ({"type": "latency", "max": 1, "threshold": 1}, "threshold", "not both"),
        ({"type": "cost", "value": {"prompt": 1}}, "max", "cost needs max (USD"),
        ({"type": "word-count", "value": "many"}, "value", "a count or {min, max}"),
        ({"type": "word-count", "value": 3, "max": 4}, "value", "not both"),
        ({"type": "finish-reason"}, "value", "stop, length"),
        ({"type": "perplexity"}, "threshold", "needs threshold"),
        ({"type": "is-xml", "value": {"elements": ["a"]}}, "value", "requiredElements"),
        ({"type": "is-sql", "value": {"databaseType": "Oracle9"}}, "value", "databaseType"),
        ({"type": "similar"}, "value", "reference text"),
        ({"type": "factuality"}, "value", "reference answer"),
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
def test_check_problems(spec: dict[str, Any], field: str | None, fragment: str) -> None:
    found = problems(spec)
    assert any(f == field and fragment in m for f, m in found), found


def test_problems_do_not_import_user_modules() -> None:
    name = f"never_imported_{uuid.uuid4().hex}"
    assert problems({"type": "python", "value": f"{name}:check"}) == []
    assert name not in sys.modules
