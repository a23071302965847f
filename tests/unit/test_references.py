"""Reference answers: stated in the suite, or derived from the checks only when unambiguous."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptsuite.references import case_reference, case_references
from promptsuite.suite import Suite, load_suite


def suite_with(tmp_path: Path, *cases: dict[str, Any]) -> Suite:
    data = {
        "prompt": {"user": "{{ q }}"},
        "models": ["scripted"],
        "cases": [{"id": f"c{i}", "vars": {"q": "x"}, **case} for i, case in enumerate(cases)],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    return load_suite(path)


@pytest.mark.parametrize(
    ("case", "source", "output"),
    [
        ({"reference": "card_arrival"}, "stated", "card_arrival"),
        ({"reference": {"name": "Ann", "qty": 2}}, "stated", '{"name": "Ann", "qty": 2}'),
        ({"expect": [{"type": "equals", "value": "26616"}]}, "derived", "26616"),
        ({"expect": [{"type": "equals", "value": {"a": [1, 2]}}]}, "derived", '{"a": [1, 2]}'),
        (
            {"expect": [{"type": "similar", "value": "a reply", "threshold": 0.9}]},
            "derived",
            "a reply",
        ),
        ({"expect": [{"type": "levenshtein", "value": "kitten"}]}, "derived", "kitten"),
        ({"expect": [{"type": "regex", "value": "^\\s*26616\\W*$"}]}, "derived", "26616"),
        (
            {"expect": [{"type": "json-field", "path": "a.b", "value": 1}, {"type": "is-json"}]},
            "derived",
            '{"a": {"b": 1}}',
        ),
        (
            {
                "expect": [
                    {"type": "contains", "value": "26616"},
                    {"type": "regex", "value": "^\\d{5}$"},
                ]
            },
            "derived",
            "26616",
        ),
        (
            {
                "expect": [
                    {"type": "icontains-any", "value": ["yes"]},
                    {"type": "word-count", "max": 1},
                ]
            },
            "derived",
            "yes",
        ),
        (
            {"expect": [{"type": "equals", "value": "ok"}, {"type": "latency", "max": 1}]},
            "derived",
            "ok",
        ),
        (
            {
                "expect": [
                    {"type": "equals", "value": "ok"},
                    {"type": "finish-reason", "value": "stop"},
                ]
            },
            "derived",
            "ok",
        ),
        ({"expect": [{"type": "similar", "value": "a kind reply"}]}, "derived", "a kind reply"),
    ],
)
def test_a_reference_is_stated_or_derived(
    tmp_path: Path, case: dict[str, Any], source: str, output: str
) -> None:
    suite = suite_with(tmp_path, case)
    reference, why = case_reference(suite.cases[0], suite)
    assert reference is not None, why
    assert (reference.source, reference.output) == (source, output)


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ({"expect": [{"type": "contains", "value": "refund"}]}, "do not pin down an answer"),
        (
            {
                "expect": [
                    {"type": "contains-any", "value": ["yes", "no"]},
                    {"type": "word-count", "max": 1},
                ]
            },
            "accept several answers",
        ),
        (
            {"expect": [{"type": "equals", "value": "x"}, {"type": "not-contains", "value": "x"}]},
            "fails its other checks",
        ),
        (
            {"expect": [{"type": "equals", "value": "ok"}, {"type": "judge", "rubric": "polite"}]},
            "judge",
        ),
        ({"expect": [{"type": "length", "max": 5}]}, "do not pin down an answer"),
        (
            {"expect": [{"type": "equals", "value": "ok"}, {"type": "g-eval", "value": "polite"}]},
            "model-graded check (g-eval)",
        ),
    ],
)
def test_nothing_is_invented(tmp_path: Path, case: dict[str, Any], why: str) -> None:
    suite = suite_with(tmp_path, case)
    reference, reason = case_reference(suite.cases[0], suite)
    assert reference is None
    assert why in reason


def test_case_references_splits_the_suite(tmp_path: Path) -> None:
    suite = suite_with(
        tmp_path, {"reference": "a"}, {"expect": [{"type": "contains", "value": "refund"}]}
    )
    references, missing = case_references(suite)
    assert set(references) == {"c0"} and set(missing) == {"c1"}
    only, none = case_references(suite, [suite.cases[1]])
    assert only == {} and set(none) == {"c1"}
