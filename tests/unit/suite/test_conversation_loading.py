"""Loading conversation cases, tool declarations and response formats: resolution and
one located line per problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptsuite.errors import ConfigError, SuiteLoadError
from promptsuite.suite import load_suite

Write = Callable[[str, str], Path]

PROMPT = """
prompt:
  system: "You help with orders."
  tools:
    - type: function
      function:
        name: lookup_order
        parameters: {type: object, properties: {order_id: {type: string}}}
  response_format: {type: json_object}
"""


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_suite(path, display="suites/s.yaml")
    exc = info.value
    return [str(e) for e in exc.errors] if isinstance(exc, SuiteLoadError) else [str(exc)]


def test_turns_resolve_with_templated_checks_and_merged_tool_results(write: Write) -> None:
    path = write(
        "suites/s.yaml",
        PROMPT
        + """
cases:
  - id: c
    vars: {order: A-1}
    tool_results: {lookup_order: {status: shipped}}
    response_format: {type: json_schema, json_schema: {name: x, schema: {type: object}}}
    turns:
      - user: "Where is {{ order }}?"
        expect:
          - type: tool-args
            value: {name: lookup_order, arguments: {order_id: "{{ order }}"}}
      - assistant: "Anything else?"
      - user: "No"
        tool_results: {lookup_order: "none"}
        reference: "Goodbye."
""",
    )
    suite = load_suite(path)
    [case] = suite.cases
    variant = suite.prompt.variants[suite.prompt.default]
    assert variant.tool_names == ("lookup_order",)
    assert variant.response_format == {"type": "json_object"}
    assert case.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "x", "schema": {"type": "object"}},
    }
    assert [t.role for t in case.turns] == ["user", "assistant", "user"]
    assert case.turns[0].expect[0].value["arguments"] == {"order_id": "A-1"}
    assert case.turns[0].tool_results == {"lookup_order": {"status": "shipped"}}
    assert case.turns[2].tool_results == {"lookup_order": "none"}
    assert case.turns[2].reference == "Goodbye."
    assert case.is_conversation


@pytest.mark.parametrize(
    ("cases", "expected"),
    [
        (
            "  - {id: c, turns: [{user: hi, tool_results: {refund: ok}}]}",
            "suites/s.yaml:10:46: case 'c': field 'cases[0].turns[0].tool_results': a result for "
            "tool "
            "'refund', which the prompt does not declare, so the model can never call it; "
            "declared tools: lookup_order",
        ),
        (
            "  - {id: c, tool_results: {refund: ok}, turns: [{user: hi}]}",
            "suites/s.yaml:10:36: case 'c': field 'cases[0].tool_results.refund': a result for "
            "tool 'refund'",
        ),
        (
            "  - {id: c, turns: [{user: hi, assistant: ho}]}",
            "suites/s.yaml:10:21: case 'c': field 'cases[0].turns[0]': give a turn either "
            "'user' or 'assistant'",
        ),
        (
            "  - {id: c, turns: [{assistant: ho}]}",
            "suites/s.yaml:10:20: case 'c': field 'cases[0].turns': a conversation needs at "
            "least one user turn",
        ),
        (
            "  - {id: c, turns: [{user: hi}, {assistant: ho, expect: [{type: is-json}]}]}",
            "field 'cases[0].turns[1].expect': a fixed assistant turn is not generated, so it "
            "takes no expect",
        ),
        (
            "  - {id: c, turns: [{user: hi, expect: [{type: tool-order, value: x}]}]}",
            "field 'cases[0].turns[0].expect[0].value': list the tool names",
        ),
        (
            "  - {id: c, turns: [{user: '{{ x'}]}",
            "field 'cases[0].turns[0].user': template syntax error",
        ),
        (
            "  - {id: c, turns: [{user: hi, expect: [{type: equals, value: '{{ nope }}'}]}]}",
            "field 'cases[0].turns[0].expect': turns[0].expect[0].value: 'nope' is undefined",
        ),
        ("  - {id: c, turns: [{usr: hi}]}", "unknown field 'usr'; expected one of: assistant"),
    ],
)
def test_a_malformed_conversation_is_one_located_line(
    write: Write, cases: str, expected: str
) -> None:
    errors = _errors(write("suites/s.yaml", PROMPT + "cases:\n" + cases + "\n"))
    assert len(errors) == 1, errors
    assert expected in errors[0], errors[0]


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        (
            "[{type: function, function: {name: a}}, {type: function, function: {name: a}}]",
            "field 'prompt.tools[1].function.name': tool 'a' is declared twice",
        ),
        (
            "[{type: function, function: {name: a, parameters: {type: string}}}]",
            "field 'prompt.tools[0].function.parameters': a tool's parameters must be an object",
        ),
        ("[{type: retrieval, function: {name: a}}]", "field 'prompt.tools[0].type': Input"),
        (
            "[{type: function, function: {description: x}}]",
            "field 'prompt.tools[0].function': required field is missing",
        ),
        ("[{type: function, function: {name: 'a b'}}]", "should match pattern"),
    ],
)
def test_a_malformed_tool_declaration_is_one_located_line(
    write: Write, tools: str, expected: str
) -> None:
    text = f"prompt:\n  system: s\n  tools: {tools}\ncases: [{{id: c, turns: [{{user: hi}}]}}]\n"
    errors = _errors(write("suites/s.yaml", text))
    assert len(errors) == 1, errors
    assert expected in errors[0], errors[0]
    assert errors[0].startswith("suites/s.yaml:3:")


def test_a_json_schema_format_without_its_schema_is_refused(write: Write) -> None:
    text = "prompt: {user: hi, response_format: {type: json_schema}}\ncases: [{id: c}]\n"
    [error] = _errors(write("suites/s.yaml", text))
    assert "field 'prompt.response_format': type json_schema needs a json_schema" in error


def test_a_tool_call_check_without_declared_tools_is_refused(write: Write) -> None:
    text = """
prompt: {system: s}
cases:
  - id: c
    turns:
      - user: hi
        expect: [{type: not-tool-called}, {type: tool-called, value: lookup_order}]
"""
    [error] = _errors(write("suites/s.yaml", text))
    assert error.startswith("suites/s.yaml:6:17: case 'c': field 'cases[0].turns[0].expect': a ")
    assert "the prompt declares no tools, so the model can never call one" in error
    single = "prompt: {system: s}\ncases: [{id: c, expect: [{type: not-tool-called}]}]\n"
    assert load_suite(write("suites/t.yaml", single)).cases[0].id == "c"
