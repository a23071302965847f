"""Tool calling for the embedded model, through llama.cpp's JSON-schema constrained decoding.

xllamacpp's chat completion accepts ``tools`` but, with SmolLM2's chat template, neither
shows them to the model nor returns ``tool_calls`` (measured: the reply is the same with and
without them). So the local provider does what llama.cpp's "generic" tool format does: it
describes the tools in the system message and constrains the reply to one JSON object,
either ``{"tool_call": {"name": ..., "arguments": {...}}}`` (the arguments constrained to
the tool's ``parameters`` schema) or ``{"response": "..."}``, and turns that object back
into a tool call or a text reply. Earlier tool calls and results in the conversation are
written in the same JSON and as ``tool`` messages, so the model sees its own format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from promptsuite.models._base import Message, ToolCall


def _functions(tools: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    found = []
    for tool in tools:
        function = tool.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            found.append(function)
    return found


def tool_instructions(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system message text that tells the model its tools and the reply format."""
    lines = [
        "You can call these tools:",
        *(
            f"- {f['name']}: {f.get('description') or 'no description'}; arguments: "
            f"{json.dumps(f.get('parameters') or {'type': 'object'})}"
            for f in _functions(tools)
        ),
        'To call a tool, reply {"tool_call": {"name": "<tool>", "arguments": {...}}}.',
        'To answer the user, reply {"response": "<your answer>"}.',
    ]
    return "\n".join(lines)


def reply_schema(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A JSON Schema admitting a call of one of ``tools`` (valid arguments) or an answer."""
    calls = [
        {
            "type": "object",
            "properties": {
                "name": {"const": f["name"]},
                "arguments": f.get("parameters") or {"type": "object"},
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for f in _functions(tools)
    ]
    return {
        "oneOf": [
            {
                "type": "object",
                "properties": {"tool_call": {"anyOf": calls}},
                "required": ["tool_call"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"response": {"type": "string"}},
                "required": ["response"],
                "additionalProperties": False,
            },
        ]
    }


def tool_messages(
    messages: Sequence[Message], tools: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The conversation as plain chat messages for a template without tool support: the
    tool instructions in the system message, earlier calls and answers as the JSON the
    model is asked to write."""
    out: list[dict[str, Any]] = []
    instructions = tool_instructions(tools)
    if messages and messages[0].role == "system":
        out.append({"role": "system", "content": f"{messages[0].content}\n\n{instructions}"})
        rest = messages[1:]
    else:
        out.append({"role": "system", "content": instructions})
        rest = messages
    for message in rest:
        if message.role == "assistant" and message.tool_calls:
            call = message.tool_calls[0]
            content = json.dumps(
                {"tool_call": {"name": call.name, "arguments": _loads(call.arguments)}}
            )
        elif message.role == "assistant":
            content = json.dumps({"response": message.content})
        else:
            content = message.content
        out.append({"role": message.role, "content": content})
    return out


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_tool_reply(text: str, earlier_calls: int) -> tuple[str, tuple[ToolCall, ...]]:
    """``(text, tool calls)`` from a constrained reply; unparseable text (a reply cut by
    ``max_tokens``) is returned as it is, without calls."""
    try:
        data = json.loads(text)
    except ValueError:
        return text, ()
    if isinstance(data, dict) and isinstance(data.get("tool_call"), dict):
        call = data["tool_call"]
        name = call.get("name")
        if isinstance(name, str):
            arguments = json.dumps(call.get("arguments", {}), ensure_ascii=False)
            return "", (ToolCall(f"call_{earlier_calls}", name, arguments),)
    if isinstance(data, dict) and isinstance(data.get("response"), str):
        return data["response"], ()
    return text, ()


def calls_before(messages: Sequence[Message]) -> int:
    """How many tool calls the conversation holds (numbers the next call's id)."""
    return sum(len(m.tool_calls) for m in messages)
