"""Tool calls for the embedded model: the prompt, the reply schema and reading replies."""

from __future__ import annotations

import json

import jsonschema

from promptsuite.models import Message, ToolCall
from promptsuite.models._local_tools import (
    calls_before,
    parse_tool_reply,
    reply_schema,
    tool_messages,
)

LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "Find an order.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}


def test_the_reply_schema_admits_a_valid_call_or_an_answer_and_nothing_else() -> None:
    validator = jsonschema.Draft202012Validator(reply_schema([LOOKUP]))
    assert validator.is_valid(
        {"tool_call": {"name": "lookup_order", "arguments": {"order_id": "1"}}}
    )
    assert validator.is_valid({"response": "Hello"})
    assert not validator.is_valid({"tool_call": {"name": "refund", "arguments": {}}})
    assert not validator.is_valid({"tool_call": {"name": "lookup_order", "arguments": {}}})
    assert not validator.is_valid({"response": "Hi", "tool_call": None})


def test_earlier_calls_and_answers_are_shown_in_the_reply_format() -> None:
    call = ToolCall("call_0", "lookup_order", '{"order_id": "1"}')
    messages = [
        Message("system", "Help."),
        Message("user", "Where is 1?"),
        Message("assistant", "", (call,)),
        Message("tool", '{"status": "shipped"}', tool_call_id="call_0"),
        Message("assistant", "It shipped."),
    ]
    sent = tool_messages(messages, [LOOKUP])
    assert sent[0]["content"].startswith("Help.\n\nYou can call these tools:\n- lookup_order: ")
    assert json.loads(sent[2]["content"]) == {
        "tool_call": {"name": "lookup_order", "arguments": {"order_id": "1"}}
    }
    assert sent[3] == {"role": "tool", "content": '{"status": "shipped"}'}
    assert json.loads(sent[4]["content"]) == {"response": "It shipped."}
    assert tool_messages([Message("user", "hi")], [LOOKUP])[0]["role"] == "system"
    assert calls_before(messages) == 1


def test_replies_become_calls_or_text() -> None:
    text, calls = parse_tool_reply(
        '{"tool_call": {"name": "lookup_order", "arguments": {"order_id": "7"}}}', 2
    )
    assert (text, calls) == ("", (ToolCall("call_2", "lookup_order", '{"order_id": "7"}'),))
    assert parse_tool_reply('{"response": "Hello"}', 0) == ("Hello", ())
    assert parse_tool_reply('{"tool_call": {"na', 0) == ('{"tool_call": {"na', ())  # cut short
