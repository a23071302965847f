"""What the check tests share: a context, a check run from YAML-shaped data, and the
table-driven assertions every check type's cases go through."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from promptsuite._schema import CheckSpec
from promptsuite.checks import CheckContext, CheckResult, check_problems, evaluate
from promptsuite.models import Generation, Message, ToolCall

HERE = Path(__file__).parent
MESSAGES = (Message("system", "Be brief."), Message("user", "Can I get my money back?"))
SCHEMA = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "integer"}, "tags": {"type": "array"}},
}
DATED = {"type": "object", "properties": {"date": {"type": "string", "format": "date"}}}
NESTED = '{"a": {"b": [{"c": 1}, {"c": "two"}]}, "ok": true}'

#: (check, output, generation fields, passed, score or None when only the pass matters)
Case = tuple[dict[str, Any], str, dict[str, Any], bool, float | None]


def make_ctx(
    output: str,
    *,
    suite_dir: Path = HERE,
    grade: Any = None,
    vars: dict[str, Any] | None = None,
    embed: Any = None,
    peers: Any = None,
    tools: tuple[dict[str, Any], ...] = (),
    **generation: Any,
) -> CheckContext:
    made = Generation(text=output, **generation)
    return CheckContext(
        output=output,
        generation=made,
        vars=vars or {},
        messages=MESSAGES,
        suite_dir=suite_dir,
        grade=grade,
        embed=embed,
        peers=peers,
        tool_calls=made.tool_calls,
        tools=tools,
    )


def check(spec: dict[str, Any], output: str = "", **ctx: Any) -> CheckResult:
    """Evaluate a check written as in YAML (``schema``, not ``json_schema``)."""
    return asyncio.run(evaluate(CheckSpec.model_validate(spec), make_ctx(output, **ctx)))


def negated(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "type": "not-" + spec["type"]}


def problems(spec: dict[str, Any]) -> list[tuple[str | None, str]]:
    return list(check_problems(CheckSpec.model_validate(spec)))


def params(cases: list[Case]) -> list[Any]:
    """The cases as pytest params with readable ids."""
    return [
        pytest.param(
            *case, id=f"{case[0]['type']}-{'pass' if case[3] else 'fail'}-{case[1][:12]!r}"
        )
        for case in cases
    ]


CASE_ARGS = ("spec", "output", "generation", "passed", "score")


def assert_scores(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool, score: float | None
) -> None:
    """The check is valid, passes or fails as expected, scores in 0..1, explains in one line."""
    assert problems(spec) == []
    result = check(spec, output, **generation)
    assert result.passed is passed, result.reason
    assert 0.0 <= result.score <= 1.0
    if score is not None:
        assert result.score == pytest.approx(score)
    assert result.type == spec["type"]
    assert result.reason.startswith("expected output to ")
    assert "\n" not in result.reason


def assert_negates(
    spec: dict[str, Any], output: str, generation: dict[str, Any], passed: bool
) -> None:
    """``not-<type>`` inverts the pass and the score."""
    plain = check(spec, output, **generation)
    result = check(negated(spec), output, **generation)
    assert result.passed is not passed
    assert result.score == pytest.approx(1.0 - plain.score)
    assert result.type == "not-" + spec["type"]
    assert result.reason.startswith("expected output not to ")


TEXT_CASES: list[Case] = [
    ({"type": "equals", "value": "Hello"}, "Hello", {}, True, 1.0),
    ({"type": "equals", "value": "Hello"}, "Hello\n", {}, False, 0.0),
    ({"type": "equals", "value": "Hello"}, "Hello!", {}, False, 0.0),
    ({"type": "equals", "value": {"a": [1, 2]}}, '{"a": [1, 2.0]}', {}, True, 1.0),
    ({"type": "equals", "value": {"a": 1}}, '{"a": true}', {}, False, 0.0),
    ({"type": "equals", "value": {"a": 1}}, '```json\n{"a": 1}\n```', {}, False, 0.0),
    ({"type": "equals", "value": 42}, "42", {}, True, 1.0),
    ({"type": "equals", "value": 42}, " 42 ", {}, False, 0.0),
    ({"type": "equals", "value": True}, "true", {}, True, 1.0),
    ({"type": "equals", "value": None}, "null", {}, True, 1.0),
    ({"type": "contains", "value": "refund"}, "We issue a refund.", {}, True, 1.0),
    ({"type": "contains", "value": "Refund"}, "We issue a refund.", {}, False, 0.0),
    ({"type": "contains", "value": 42}, "answer: 42", {}, True, 1.0),
    ({"type": "contains", "value": 0}, "0 items", {}, True, 1.0),
    ({"type": "icontains", "value": "REFUND"}, "We issue a refund.", {}, True, 1.0),
    ({"type": "icontains", "value": "credit"}, "We issue a refund.", {}, False, 0.0),
    ({"type": "contains-any", "value": ["cat", "dog"]}, "a hotdog", {}, True, 1.0),
    ({"type": "contains-any", "value": ["cat", "dog"]}, "a bird", {}, False, 0.0),
    ({"type": "contains-any", "value": "cat, dog"}, "a dog", {}, True, 1.0),
    ({"type": "contains-any", "value": '"1,000", stock'}, "we have 1,000", {}, True, 1.0),
    ({"type": "icontains-any", "value": ["CAT", "DOG"]}, "my cat", {}, True, 1.0),
    ({"type": "icontains-any", "value": ["CAT"]}, "my bird", {}, False, 0.0),
    ({"type": "contains-all", "value": ["a", "b"]}, "a and b", {}, True, 1.0),
    ({"type": "contains-all", "value": ["alpha", "beta", "gamma", "delta"]}, "alpha beta", {},
     False, 0.0),
    ({"type": "contains-all", "value": "alpha,beta"}, "alpha beta", {}, True, 1.0),
    ({"type": "icontains-all", "value": ["ALPHA", "Beta"]}, "alpha beta", {}, True, 1.0),
    ({"type": "icontains-all", "value": ["ALPHA", "gamma"]}, "alpha beta", {}, False, 0.0),
    ({"type": "starts-with", "value": "Yes"}, "Yes, you can.", {}, True, 1.0),
    ({"type": "starts-with", "value": "Yes"}, "  Yes, you can.", {}, False, 0.0),
    ({"type": "starts-with", "value": "Yes"}, "No, sorry.", {}, False, 0.0),
    ({"type": "ends-with", "value": "done."}, "All done.", {}, True, 1.0),
    ({"type": "ends-with", "value": "done."}, "All done. Bye", {}, False, 0.0),
    ({"type": "regex", "value": r"\d{3}-\d{4}"}, "Call 555-1234 now", {}, True, 1.0),
    ({"type": "regex", "value": "(?i)^hello"}, "HELLO there", {}, True, 1.0),
    ({"type": "regex", "value": r"^\d+$"}, "12a", {}, False, 0.0),
    ({"type": "regex", "value": r"^\d+$"}, "12\n", {}, False, 0.0),
    ({"type": "regex", "value": r"\d"}, "\u0663", {}, False, 0.0),
    ({"type": "regex", "value": r"(?<year>\d{4})-\k<year>"}, "2024-2024", {}, True, 1.0),
    ({"type": "length", "min": 3, "max": 5}, "abcd", {}, True, 1.0),
    ({"type": "length", "min": 3, "max": 5}, "abcdef", {}, False, 0.0),
    ({"type": "length", "min": 10}, "short", {}, False, 0.0),
    ({"type": "character-count", "value": 5}, "short", {}, True, 1.0),
    ({"type": "character-count", "value": {"max": 3}}, "short", {}, False, 0.0),
    ({"type": "word-count", "min": 2, "max": 3}, "one two", {}, True, 1.0),
    ({"type": "word-count", "max": 3}, "one two three four", {}, False, 0.0),
    ({"type": "word-count", "value": 2}, " one  two ", {}, True, 1.0),
    ({"type": "word-count", "value": {"min": 3}}, "one two", {}, False, 0.0),
    ({"type": "levenshtein", "value": "kitten"}, "sitting", {}, True, 1.0),
    ({"type": "levenshtein", "value": "kitten", "threshold": 2}, "sitting", {}, False, 0.0),
    ({"type": "levenshtein", "value": "same", "threshold": 0}, "same", {}, True, 1.0),
    ({"type": "is-refusal"}, "I'm sorry, but I can't help with that.", {}, True, 1.0),
    ({"type": "is-refusal"}, "As an AI language model, I cannot browse.", {}, True, 1.0),
    ({"type": "is-refusal"}, "", {}, True, 1.0),
    ({"type": "is-refusal"}, "Paris is the capital of France.", {}, False, 0.0),
    ({"type": "is-refusal"}, "x", {"finish_reason": "content_filter"}, True, 1.0),
]  # fmt: skip

SIMILARITY_CASES: list[Case] = [
    ({"type": "similar-text", "value": "hello world"}, "hello world!", {}, True, None),
    ({"type": "similar-text", "value": "abc", "threshold": 0.5}, "xyz", {}, False, 0.0),
    ({"type": "similar-text", "value": ["xyz", "abc"]}, "abc", {}, True, 1.0),
    ({"type": "rouge-n", "value": "the cat sat on the mat"}, "the cat sat on the mat", {},
     True, 1.0),
    ({"type": "rouge-n", "value": "the cat sat on the mat"}, "The cat sat", {}, False, 0.5),
    ({"type": "rouge-n", "value": "the cat sat on the mat", "threshold": 0.5}, "The cat sat",
     {}, True, 0.5),
    ({"type": "bleu", "value": "the quick brown fox jumps over the lazy dog"},
     "the quick brown fox jumps over the lazy dog", {}, True, 1.0),
    ({"type": "bleu", "value": "the quick brown fox jumps over the lazy dog"},
     "a slow red cat", {}, False, None),
    ({"type": "gleu", "value": ["hello there world", "the cat sat"]}, "the cat sat", {},
     True, 1.0),
    ({"type": "gleu", "value": "the cat sat on the mat"}, "dogs bark", {}, False, 0.0),
]  # fmt: skip

JSON_CASES: list[Case] = [
    ({"type": "is-json"}, '{"a": 1}', {}, True, 1.0),
    ({"type": "is-json"}, '```json\n{"a": 1}\n```', {}, False, 0.0),
    ({"type": "is-json"}, ' {"a": 1}\n', {}, True, 1.0),
    ({"type": "is-json", "value": SCHEMA}, '{"id": 3}', {}, True, 1.0),
    ({"type": "is-json", "value": "type: object\nrequired: [id]"}, '{"x": 3}', {}, False, 0.0),
    ({"type": "is-json", "value": DATED}, '{"date": "2024-02-30"}', {}, False, 0.0),
    ({"type": "is-json", "value": DATED}, '{"date": "2024-02-29"}', {}, True, 1.0),
    ({"type": "json-schema", "value": DATED}, '{"date": "not a date"}', {}, False, 0.0),
    ({"type": "contains-json", "value": SCHEMA}, 'id: {"id": 7}', {}, True, 1.0),
    ({"type": "is-json"}, "[1, 2]", {}, True, 1.0),
    ({"type": "is-json"}, 'Here it is: {"a": 1}', {}, False, 0.0),
    ({"type": "is-json"}, "not json", {}, False, 0.0),
    ({"type": "is-json", "schema": SCHEMA}, '{"id": 3}', {}, True, 1.0),
    ({"type": "is-json", "schema": SCHEMA}, '{"id": "3"}', {}, False, 0.0),
    ({"type": "contains-json"}, 'Sure: {"a": 1} hope it helps', {}, True, 1.0),
    # Objects only, read as promptfoo reads them (YAML 1.2, // comments, closed when cut off).
    ({"type": "contains-json"}, 'Sure:\n```json\n[1, 2]\n```\n', {}, False, 0.0),
    ({"type": "contains-json"}, "no json here {", {}, False, 0.0),
    ({"type": "contains-json"}, "no json {here", {}, True, 1.0),  # {"here": null}
    ({"type": "contains-json"}, '{"a": 1, // one\n "b": 2,}', {}, True, 1.0),
    ({"type": "contains-json", "schema": SCHEMA}, "ok: {id: 7, tags: [a, b,],}", {}, True, 1.0),
    ({"type": "contains-json", "schema": SCHEMA}, "cut: {id: 7, tags: [a]", {}, True, 1.0),
    ({"type": "contains-json"}, "cut: {id: 7, tags: [a", {}, False, 0.0),  # only } are added
    ({"type": "contains-json", "schema": SCHEMA}, "{id: yes}", {}, False, 0.0),  # "yes": text
    ({"type": "contains-json", "schema": {"required": ["1"]}}, "{1: one}", {}, True, 1.0),
    ({"type": "contains-json"}, '{"k": "v" more text', {}, False, 0.0),
    ({"type": "is-json"}, '{"a": 1,}', {}, False, 0.0),
    ({"type": "is-json"}, '{"a": NaN}', {}, False, 0.0),
    ({"type": "is-json"}, "{a: 1}", {}, False, 0.0),
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
]  # fmt: skip

GENERATION_CASES: list[Case] = [
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
    ({"type": "latency", "threshold": 500}, "x", {"latency_s": 0.8}, False, 0.0),
    ({"type": "cost", "value": {"prompt": 1.0}, "threshold": 0.001}, "x",
     {"prompt_tokens": 100, "completion_tokens": 200}, True, 1.0),
    ({"type": "finish-reason", "value": "stop"}, "x", {"finish_reason": "stop"}, True, 1.0),
    ({"type": "finish-reason", "value": "STOP"}, "x", {"finish_reason": "stop"}, True, 1.0),
    ({"type": "finish-reason", "value": "length"}, "x", {"finish_reason": "stop"}, False, 0.0),
    ({"type": "finish-reason", "value": "stop"}, "x", {}, False, 0.0),
    ({"type": "perplexity", "threshold": 1.5}, "x", {"logprobs": (-0.1, -0.2)}, True, 1.0),
    ({"type": "perplexity", "threshold": 1.1}, "x", {"logprobs": (-0.1, -0.2)}, False, 0.0),
    ({"type": "perplexity-score"}, "x", {"logprobs": (0.0, 0.0)}, True, 0.5),
    ({"type": "perplexity-score", "threshold": 0.6}, "x", {"logprobs": (0.0,)}, False, 0.5),
]  # fmt: skip

MARKUP_CASES: list[Case] = [
    ({"type": "is-xml"}, "<root><child>Content</child></root>", {}, True, 1.0),
    ({"type": "is-xml"}, "<root><child>Content</child></root", {}, False, 0.0),
    ({"type": "is-xml", "value": {"requiredElements": ["analysis.classification",
      "analysis.color"]}},
     "<analysis><classification>T-shirt</classification><color>Red</color></analysis>", {},
     True, 1.0),
    ({"type": "is-xml", "value": {"requiredElements": ["analysis.color"]}},
     "<analysis><classification>T-shirt</classification></analysis>", {}, False, 0.0),
    ({"type": "is-xml", "value": "root.parent.child"},
     "<root><parent><child/></parent></root>", {}, True, 1.0),
    ({"type": "is-xml"}, '<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', {}, False, 0.0),
    ({"type": "is-xml"}, "Here: <root/>", {}, False, 0.0),
    ({"type": "contains-xml"}, "Sure, here is your xml:\n<root><child>Content</child></root>\n"
     "let me know!", {}, True, 1.0),
    ({"type": "contains-xml", "value": ["root.child"]}, "Text <root><child>C</child></root>",
     {}, True, 1.0),
    ({"type": "contains-xml"}, "no xml here, a < b", {}, False, 0.0),
    ({"type": "is-html"}, "<!DOCTYPE html><html><body><p>Hi</p></body></html>", {}, True, 1.0),
    ({"type": "is-html"}, "<h1>Title</h1><p>Paragraph</p>", {}, True, 1.0),
    ({"type": "is-html"}, '<img src="test.jpg" />', {}, True, 1.0),
    ({"type": "is-html"}, "Just text", {}, False, 0.0),
    ({"type": "is-html"}, "Text before <div>HTML</div> text after", {}, False, 0.0),
    ({"type": "is-html"}, '<?xml version="1.0"?><root>x</root>', {}, False, 0.0),
    ({"type": "is-html"}, "<div>Unclosed div", {}, False, 0.0),
    ({"type": "contains-html"}, "Here is some HTML: <div class=\"x\">test</div>", {}, True, 1.0),
    ({"type": "contains-html"}, "a < b and b > c; mail me at a@b.c", {}, False, 0.0),
    ({"type": "is-sql"}, "SELECT id, name FROM users WHERE id = 1;", {}, True, 1.0),
    ({"type": "is-sql"}, "SELECT * FRM users", {}, False, 0.0),
    ({"type": "is-sql"}, "hello world", {}, False, 0.0),
    ({"type": "is-sql"}, "", {}, False, 0.0),
    ({"type": "is-sql", "value": {"databaseType": "PostgresQL"}}, "SELECT 1", {}, True, 1.0),
    ({"type": "is-sql", "value": {"allowedTables": ["select::null::departments"]}},
     "SELECT name FROM departments", {}, True, 1.0),
    ({"type": "is-sql", "value": {"allowedTables": ["select::null::departments"]}},
     "SELECT name FROM salaries", {}, False, 0.0),
    ({"type": "is-sql", "value": {"allowedColumns": ["select::departments::name"]}},
     "SELECT name, budget FROM departments", {}, False, 0.0),
    ({"type": "contains-sql"}, "Try this:\n```sql\nSELECT `id` FROM `users`;\n```", {},
     True, 1.0),
    ({"type": "contains-sql"}, "I would rather not.", {}, False, 0.0),
]  # fmt: skip


def _calls(*calls: tuple[str, str]) -> dict[str, Any]:
    return {"tool_calls": tuple(ToolCall(f"c{i}", n, a) for i, (n, a) in enumerate(calls))}


LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string", "pattern": "^A-[0-9]+$"}},
            "required": ["order_id"],
            "additionalProperties": False,
        },
    },
}
ORDER = ("lookup_order", '{"order_id": "A-17"}')
ORDER_ARGS = {"name": "lookup_order", "arguments": {"order_id": "A-17"}}

TOOL_CASES: list[Case] = [
    ({"type": "tool-called", "value": "lookup_order"}, "", _calls(ORDER), True, 1.0),
    ({"type": "tool-called", "value": "lookup_order"}, "It shipped.", {}, False, 0.0),
    ({"type": "tool-called", "value": "refund"}, "", _calls(ORDER), False, 0.0),
    ({"type": "tool-called"}, "", _calls(("refund", "{}")), True, 1.0),
    ({"type": "tool-args", "value": ORDER_ARGS}, "",
     _calls(("lookup_order", '{"order_id": "A-17", "verbose": true}')), True, 1.0),
    ({"type": "tool-args", "value": ORDER_ARGS}, "",
     _calls(("lookup_order", '{"order_id": "A-18"}')), False, 0.0),
    ({"type": "tool-args", "value": ORDER_ARGS}, "", _calls(("lookup_order", "A-17")), False, 0.0),
    ({"type": "tool-args", "value": ORDER_ARGS}, "",
     _calls(("lookup_order", "{}"), ORDER), True, 1.0),
    ({"type": "tool-args", "value": "lookup_order", "schema": LOOKUP["function"]["parameters"]},
     "", _calls(("lookup_order", '{"order_id": "17"}')), False, 0.0),
    ({"type": "tool-args", "value": "lookup_order", "schema": {"required": ["order_id"]}},
     "", _calls(ORDER), True, 1.0),
    ({"type": "tool-args-exact", "value": ORDER_ARGS}, "", _calls(ORDER), True, 1.0),
    ({"type": "tool-args-exact", "value": ORDER_ARGS}, "",
     _calls(("lookup_order", '{"order_id": "A-17", "verbose": true}')), False, 0.0),
    ({"type": "tool-order", "value": ["lookup_order", "refund"]}, "",
     _calls(("greet", "{}"), ORDER, ("greet", "{}"), ("refund", "{}")), True, 1.0),
    ({"type": "tool-order", "value": ["lookup_order", "refund"]}, "",
     _calls(("refund", "{}"), ORDER), False, 0.0),
    ({"type": "tool-args-valid"}, "", {**_calls(ORDER), "tools": (LOOKUP,)}, True, 1.0),
    ({"type": "tool-args-valid"}, "",
     {**_calls(("lookup_order", '{"order_id": 17}')), "tools": (LOOKUP,)}, False, 0.0),
    ({"type": "tool-args-valid"}, "",
     {**_calls(("lookup_order", '{"order_id": "A-1", "x": 1}')), "tools": (LOOKUP,)}, False, 0.0),
    ({"type": "tool-args-valid"}, "", {**_calls(("refund", "{}")), "tools": (LOOKUP,)}, False, 0.0),
]  # fmt: skip
