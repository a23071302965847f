"""Tool-call checks: which declared tools the model called, with what arguments, in what
order.

They read :attr:`CheckContext.tool_calls`: the calls of one reply (with its tool round
trips), of one turn of a conversation, or of the whole conversation for a case's own
checks. Arguments are the JSON text the model wrote; text that is not a JSON object fails
every check that reads arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import quote
from promptsuite.checks._json import json_equal, schema_errors, schema_problems
from promptsuite.checks._registry import CheckContext, Finding, Problem, check, has_value
from promptsuite.errors import CheckError
from promptsuite.models import ToolCall


def _arguments(call: ToolCall) -> tuple[bool, Any]:
    try:
        value = json.loads(call.arguments)
    except ValueError:
        return False, None
    return isinstance(value, dict), value


def _shown(call: ToolCall) -> str:
    return f"{call.name}({call.arguments})"


def _calls_seen(ctx: CheckContext) -> str:
    if not ctx.tool_calls:
        return "no tool calls" + (f"; the reply was {quote(ctx.output)}" if ctx.output else "")
    return "calls: " + ", ".join(_shown(c) for c in ctx.tool_calls)


def _subset(expected: Any, actual: Any) -> bool:
    """Every field of ``expected`` is in ``actual`` with an equal value (recursively for
    objects; lists compare whole)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items()
        )
    return json_equal(expected, actual)


def _name_problems(spec: CheckSpec) -> Iterator[Problem]:
    if has_value(spec) and not isinstance(spec.value, str):
        yield "value", "give the tool's name, e.g. value: lookup_order (or no value: any tool)"


@check("tool-called", "value", validate=_name_problems)
def tool_called(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The model called the tool named in ``value`` (without ``value``: any tool);
    ``not-tool-called`` passes when it did not."""
    name = spec.value if isinstance(spec.value, str) and spec.value else None
    expected = f"call {name}" if name else "call a tool"
    called = any(name is None or c.name == name for c in ctx.tool_calls)
    return Finding.of(called, expected, _calls_seen(ctx))


def _call_value(spec: CheckSpec) -> tuple[str, Any]:
    value = spec.value
    if isinstance(value, str):
        return value, None
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return value["name"], value.get("arguments")
    raise CheckError(f"{spec.type} needs value: {{name: tool, arguments: {{...}}}}")


def _args_problems(spec: CheckSpec) -> Iterator[Problem]:
    value = spec.value
    if isinstance(value, str):
        if spec.json_schema is None:
            yield "value", "with only a tool name, give the arguments' JSON Schema in schema"
    elif not (isinstance(value, Mapping) and isinstance(value.get("name"), str)):
        yield "value", "expected {name: tool, arguments: {field: value, ...}}"
        return
    elif "arguments" not in value and spec.json_schema is None:
        yield "value", "give the expected arguments, or their JSON Schema in schema"
    elif "arguments" in value and not isinstance(value["arguments"], Mapping):
        yield "value", "arguments must be a mapping of argument names to values"
    elif set(value) - {"name", "arguments"}:
        extra = ", ".join(sorted(set(value) - {"name", "arguments"}))
        yield "value", f"unknown key(s) {extra}; expected name and arguments"
    if spec.json_schema is not None:
        yield from schema_problems(spec.json_schema, "schema")


def _match_args(spec: CheckSpec, ctx: CheckContext, exact: bool) -> Finding:
    name, wanted = _call_value(spec)
    how = "exactly " if exact else ""
    parts = []
    if wanted is not None:
        parts.append(f"with {how}{json.dumps(wanted, ensure_ascii=False)}")
    if spec.json_schema is not None:
        parts.append("with arguments valid against the schema")
    expected = f"call {name} " + " and ".join(parts)
    calls = [c for c in ctx.tool_calls if c.name == name]
    if not calls:
        return Finding.of(False, expected, _calls_seen(ctx))
    why = ""
    for call in calls:
        ok, arguments = _arguments(call)
        if not ok:
            why = why or f"{_shown(call)}: the arguments are not a JSON object"
            continue
        if wanted is not None:
            same = json_equal(wanted, arguments) if exact else _subset(wanted, arguments)
            if not same:
                why = why or f"got {_shown(call)}"
                continue
        if spec.json_schema is not None:
            errors = schema_errors(spec.json_schema, arguments)
            if errors:
                why = why or f"{_shown(call)}: {errors}"
                continue
        return Finding.of(True, expected, f"got {_shown(call)}")
    return Finding.of(False, expected, why)


@check("tool-args", "value", "schema", validate=_args_problems)
def tool_args(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """A call of the tool ``value.name`` has arguments that include ``value.arguments``
    (other arguments allowed), and/or are valid against the JSON Schema in ``schema``
    (with ``value`` just the tool's name)."""
    return _match_args(spec, ctx, exact=False)


@check("tool-args-exact", "value", validate=_args_problems)
def tool_args_exact(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """A call of the tool ``value.name`` has exactly the arguments ``value.arguments``
    (JSON equality: no argument more or less)."""
    return _match_args(spec, ctx, exact=True)


def _order_problems(spec: CheckSpec) -> Iterator[Problem]:
    value = spec.value
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        yield "value", "list the tool names in the order they must be called"


@check("tool-order", "value", validate=_order_problems)
def tool_order(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The tools named in ``value`` were called in that order (other calls may come
    between and around them)."""
    wanted = [str(v) for v in spec.value or ()]
    expected = "call " + " then ".join(wanted)
    remaining = iter(c.name for c in ctx.tool_calls)
    in_order = all(any(name == seen for seen in remaining) for name in wanted)
    return Finding.of(in_order, expected, _calls_seen(ctx))


def _declared(ctx: CheckContext) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for tool in ctx.tools:
        function = tool.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            found[function["name"]] = function
    return found


@check("tool-args-valid")
def tool_args_valid(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """Every tool call names a tool the prompt declares, with arguments that are a JSON
    object valid against that tool's ``parameters`` schema (no calls: passes)."""
    expected = "call only declared tools, with arguments valid for their schemas"
    declared = _declared(ctx)
    for call in ctx.tool_calls:
        function = declared.get(call.name)
        if function is None:
            known = ", ".join(declared) or "none"
            return Finding.of(False, expected, f"{_shown(call)}: not declared (declared: {known})")
        ok, arguments = _arguments(call)
        if not ok:
            return Finding.of(False, expected, f"{_shown(call)}: arguments are not a JSON object")
        parameters = function.get("parameters")
        if isinstance(parameters, dict):
            errors = schema_errors(parameters, arguments)
            if errors:
                return Finding.of(False, expected, f"{_shown(call)}: {errors}")
    seen = _calls_seen(ctx) if ctx.tool_calls else "no tool calls"
    return Finding.of(True, expected, seen)
