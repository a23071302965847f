"""The JSON checks: is-json, contains-json, json-schema, json-field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptsuite.checks import extract_json_objects, slash_comments_to_hash
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # promptfoo's own cases for convertSlashCommentsToHash (test/util/json.test.ts).
        ("some text // this is a comment", "some text # this is a comment"),
        ('"this // is not a comment" // but this is', '"this // is not a comment" # but this is'),
        ("'don't convert // here' // convert here", "'don't convert // here' # convert here"),
        ('"escaped \\" quote // not" // real', '"escaped \\" quote // not" # real'),
        ("text // first comment // not a second", "text # first comment // not a second"),
        ("// at start\ntext // at end", "# at start\ntext # at end"),
        ("text //// double comment", "text ## double comment"),
        ("", ""),
        ("no comments here", "no comments here"),
        ("{url: https://example.com/a // page}", "{url: https://example.com/a # page}"),
    ],
)
def test_slash_comments_become_hash_comments_as_in_promptfoo(text: str, expected: str) -> None:
    assert slash_comments_to_hash(text) == expected


@pytest.mark.parametrize(
    ("output", "objects"),
    [
        ('yolo {"key1": "value1"} some text {"key2": "value2"} fomo',
         [{"key1": "value1"}, {"key2": "value2"}]),
        ('{"key": "value" some text {"key2": "value2"}', [{"key2": "value2"}]),
        ("{key: value with spaces, special: value!@#$%}",
         [{"key": "value with spaces", "special": "value!@#$%"}]),
        ('{\n  "reason": "mostly accurate:\n\n  - Point 1\n  - Point 2",\n  "score": 0.75\n}',
         [{"reason": "mostly accurate:\n- Point 1 - Point 2", "score": 0.75}]),
        ('{"a": 1, // one\n "b": [2, 3,],}', [{"a": 1, "b": [2, 3]}]),
        ('{"name": "John", "address": {"city": "Boston"',
         [{"name": "John", "address": {"city": "Boston"}}]),
        ("{a: yes, b: on, c: 1:30, d: 010}", [{"a": "yes", "b": "on", "c": "1:30", "d": 10}]),
        ("{1: one, 2.0: two, false: f, null: n}",
         [{"1": "one", "2": "two", "false": "f", "null": "n"}]),
        ('{"a": 1, "a": 2}', [{"a": 2}]),
        ("[1, 2, 3] {obj: value} plain: string", [{"obj": "value"}]),
        ("{[a, b]: 1}", []),  # a key that is not text: js-yaml refuses the object
        ("{{a: 1}: 2}", [{"a": 1}]),
        ("ends with {", []),
        ("{" * 40 + "a: 1" + "}" * 40, [{"a": 1}]),  # as promptfoo: mappings are not keys
        # Nested deeper than is read (32): the object found is the one 32 levels in.
        ('{"a": ' * 40 + "1" + "}" * 40, [json.loads('{"a": ' * 32 + "1" + "}" * 32)]),
    ],
)  # fmt: skip
def test_objects_are_extracted_as_promptfoo_extracts_them(
    output: str, objects: list[dict[str, Any]]
) -> None:
    assert list(extract_json_objects(output)) == objects
