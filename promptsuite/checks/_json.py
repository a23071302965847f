"""JSON checks: the output is JSON, holds JSON, matches a schema, or has a field's value.

Also the JSON readers other parts share: :func:`parse_json_output` (the output as JSON),
:func:`json_candidates` (every JSON value in it), :func:`extract_json_objects` (the objects
in it as promptfoo's ``contains-json`` finds them) and :func:`parse_path` (``a.b[0].c``).

At about 500 lines it stays whole: it is one concept, JSON in a reply; the lenient reader
that must find what promptfoo finds, case for case, is much of it.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import is_number, one_line, quote
from promptsuite.checks._registry import CheckContext, Finding, Problem, check, has_value
from promptsuite.errors import CheckError

_WHOLE_FENCE = re.compile(r"\A\s*```[ \t]*(?:json)?[ \t]*\r?\n(.*?)\r?\n?```\s*\Z", re.S | re.I)
_ANY_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```", re.S | re.I)
_DECODER = json.JSONDecoder()


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _loads(text: str) -> tuple[bool, Any]:
    try:
        # Python's reader takes NaN and Infinity; JSON (and JavaScript's JSON.parse) do not.
        return True, json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return False, None


def loads_strict(text: str) -> tuple[bool, Any]:
    """The whole text as JSON, like JavaScript's ``JSON.parse`` (surrounding whitespace
    allowed, nothing else; ``NaN`` and ``Infinity`` are not JSON).

    Returns:
        ``(found, value)``; ``(False, None)`` when the text is not JSON.
    """
    return _loads(text)


def parse_json_output(output: str) -> tuple[bool, Any]:
    """The output as JSON: the whole of it, or a single fenced block that is all of it.

    Returns:
        ``(found, value)``; ``(False, None)`` when the output is not JSON.
    """
    found, data = _loads(output)
    if found:
        return True, data
    fence = _WHOLE_FENCE.match(output)
    return _loads(fence.group(1)) if fence else (False, None)


def json_candidates(output: str) -> Iterator[Any]:
    """Every JSON value in the output: the whole, fenced blocks, then embedded objects."""
    found, data = _loads(output)
    if found:
        yield data
        return
    for fence in _ANY_FENCE.finditer(output):
        found, data = _loads(fence.group(1))
        if found:
            yield data
    start = output.find("{")
    while start >= 0:
        try:
            data, end = _DECODER.raw_decode(output, start)
        except ValueError:
            start = output.find("{", start + 1)
            continue
        yield data
        start = output.find("{", end)


#: promptfoo looks no further than this many characters from an opening brace.
_MAX_OBJECT_CHARS = 100_000
#: Objects nested deeper (brackets and braces) are not read: each failed reading of one
#: costs time in proportion to its depth, and an output may hold thousands of braces.
_MAX_DEPTH = 32
_NESTING = re.compile(r"[{}\[\]]")


def extract_json_objects(output: str) -> Iterator[dict[str, Any]]:
    """The JSON objects in the output, found as promptfoo's ``extractJsonObjects`` finds them.

    From each ``{``, the text up to the brace that balances it (braces counted as they come,
    in strings too) is read as YAML 1.2 with ``//`` comments turned into ``#`` ones, so an
    object written the way models write them counts: comments, trailing commas, unquoted
    keys and values, single quotes. An object cut off at the end of the output is closed
    with the braces it lacks. The scan goes on after each object found (an object that
    does not read is searched for objects inside it). Only objects count: a bare array or
    scalar is not extracted.
    """
    braces = [m.start() for m in re.finditer(r"[{}]", output)]
    closing = _closing_braces(output, braces)
    at = 0
    while at < len(braces):
        start = braces[at]
        limit = min(start + _MAX_OBJECT_CHARS, len(output))
        # promptfoo reads nothing from a closing brace, or from an opening one that ends it.
        if output[start] == "}" or start + 1 >= limit:
            at += 1
            continue
        match = closing[at]
        # Cut off (no balancing brace within reach): read to the limit, closed.
        end = limit if match is None or braces[match] >= limit else braces[match] + 1
        data = None if _nests_deeper(output, start, end) else _lenient_object(output[start:end])
        if data is None:
            at += 1
        else:
            yield data
            at = bisect.bisect_left(braces, end)


def _closing_braces(output: str, braces: Sequence[int]) -> list[int | None]:
    """For each brace (by its index in ``braces``), the index of the ``}`` that balances an
    opening one, counting from it; None for closing braces and for ``{`` left open."""
    closing: list[int | None] = [None] * len(braces)
    open_ones: list[int] = []
    for index, position in enumerate(braces):
        if output[position] == "{":
            open_ones.append(index)
        elif open_ones:
            closing[open_ones.pop()] = index
    return closing


def _lenient_object(text: str) -> dict[str, Any] | None:
    """``text`` as an object: as strict JSON (fast), else as YAML 1.2 (promptfoo reads it
    with js-yaml), closed with the braces it lacks when it was cut off; None when it is
    neither, or not an object."""
    text += "}" * (text.count("{") - text.count("}"))
    found, data = _loads(text)
    if not found:
        from ruamel.yaml.error import YAMLError

        try:
            data = _string_keys(_yaml().load(slash_comments_to_hash(text)))
        except (YAMLError, ValueError):  # ValueError: a value or key YAML cannot build
            return None
    return data if isinstance(data, dict) else None


def _nests_deeper(output: str, start: int, end: int) -> bool:
    """Whether brackets and braces in ``output[start:end]`` nest deeper than _MAX_DEPTH."""
    depth = 0
    for match in _NESTING.finditer(output, start, end):
        depth += 1 if match[0] in "{[" else -1
        if depth > _MAX_DEPTH:
            return True
    return False


def _string_keys(data: Any) -> Any:
    """YAML's keys as JavaScript's are: text (``{1: a}`` has the key ``"1"``)."""
    if isinstance(data, dict):
        return {_key_text(k): _string_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_string_keys(item) for item in data]
    return data


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    if isinstance(key, int | float):
        return str(key)
    # A mapping or sequence as a key: js-yaml refuses the object, so do we.
    raise ValueError(f"a key that is not text: {key!r}")


@lru_cache(maxsize=1)
def _yaml() -> Any:
    # ruamel.yaml reads YAML 1.2 (``yes`` and ``on`` are text, as for js-yaml; PyYAML's 1.1
    # makes them booleans). Imported on the first output that is not strict JSON.
    from ruamel.yaml import YAML

    reader = YAML(typ="safe", pure=True)
    reader.allow_duplicate_keys = True  # the last one wins, as in JSON.parse
    return reader


def slash_comments_to_hash(text: str) -> str:
    """promptfoo's ``convertSlashCommentsToHash``: on each line, the first ``//`` outside a
    quoted string (and not in a ``scheme://`` word) starts a comment, written as ``#``
    (``////`` as ``##``). A single quote after a letter is an apostrophe, not a quote."""
    return "\n".join(_line_comment_to_hash(line) for line in text.split("\n"))


def _line_comment_to_hash(line: str) -> str:
    quote_char = ""
    at = 0
    while at < len(line):
        char = line[at]
        if quote_char:
            if char == quote_char and not _escaped(line, at):
                after = line[at + 1 : at + 2]
                if quote_char == '"' or not after.isascii() or not after.isalpha():
                    quote_char = ""
        elif char == '"' or (char == "'" and not _after_letter(line, at)):
            quote_char = char
        elif line.startswith("//", at) and "://" not in line[_word_start(line, at) : at + 2]:
            slashes = len(line[at:]) - len(line[at:].lstrip("/"))
            return line[:at] + "#" * (slashes // 2) + line[at + slashes :]
        at += 1
    return line


def _after_letter(line: str, at: int) -> bool:
    before = line[at - 1 : at]
    return before.isascii() and before.isalpha()


def _escaped(line: str, at: int) -> bool:
    backslashes = len(line[:at]) - len(line[:at].rstrip("\\"))
    return backslashes % 2 == 1


def _word_start(line: str, at: int) -> int:
    """Where the word holding position ``at`` starts (after the last whitespace before it)."""
    for back in range(at - 1, -1, -1):
        if line[back].isspace():
            return back + 1
    return 0


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: like ``==`` but ``true`` never equals ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if is_number(a) and is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


# --- JSON Schema ----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    # jsonschema takes ~0.1 s to import: load it only for suites that use schemas.
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]

    # Without a format checker, `format` is only an annotation and {"date": "not a date"}
    # passes `format: date`; with it (and jsonschema's format extras installed) formats
    # such as date, date-time, email, uri, uuid, ipv4 and hostname are enforced.
    return Draft202012Validator(
        json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def schema_errors(schema: dict[str, Any], data: Any, limit: int = 3) -> str:
    """The first few validation errors with their paths, on one line; "" when valid."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
    if not errors:
        return ""
    shown = "; ".join(f"{e.json_path}: {one_line(e.message, 100)}" for e in errors[:limit])
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    count = f"{len(errors)} schema error{'s' if len(errors) > 1 else ''}"
    return f"{count}: {shown}{more}"


def schema_problems(schema: Any, field: str) -> Iterator[Problem]:
    """What is wrong with a JSON Schema written under ``field``: not a mapping, or invalid."""
    if not isinstance(schema, dict):
        yield field, "a JSON Schema must be a mapping, e.g. {type: object, required: [id]}"
        return
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]
    from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped,unused-ignore]

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        yield field, f"invalid JSON Schema at {err.json_path}: {one_line(err.message, 120)}"


_FILE = "file://"


def schema_of(spec: CheckSpec, base: Path | None = None) -> dict[str, Any] | None:
    """The JSON Schema of an ``is-json`` / ``contains-json`` check, if it has one: in
    ``schema``, or in ``value`` (promptfoo's spelling) as a mapping, a YAML/JSON string, or
    ``file://schema.json`` relative to ``base`` (the suite's folder; not read without one).

    Raises:
        CheckError: ``value`` holds something that is not a schema, or names a file that
            cannot be read.
    """
    if spec.json_schema is not None:
        return spec.json_schema
    value = spec.value
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.startswith(_FILE):
        if base is None:
            return None
        path = base / value[len(_FILE) :]
        try:
            value = path.read_text(encoding="utf-8")
        except OSError as err:
            raise CheckError(f"{spec.type}: cannot read the schema file {path}: {err}") from err
    if isinstance(value, str):
        import yaml

        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise CheckError(f"{spec.type} value is not a JSON Schema (YAML error: {err})") from err
    if not isinstance(value, dict):
        raise CheckError(f"{spec.type} value must be a JSON Schema mapping, got {spec.value!r}")
    return value


def _optional_schema(spec: CheckSpec) -> Iterator[Problem]:
    if spec.json_schema is not None and has_value(spec) and spec.value is not None:
        yield "value", "give the JSON Schema in value or in schema, not both"
        return
    field = "schema" if spec.json_schema is not None else "value"
    try:
        schema = schema_of(spec)
    except CheckError as err:
        yield field, str(err)
        return
    if schema is not None:
        yield from schema_problems(schema, field)


@check("is-json", "value", "schema", validate=_optional_schema)
def is_json(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The whole output is JSON (a fenced block is not: use ``contains-json``); with a JSON
    Schema in ``value`` or ``schema``, it also validates against it, formats included."""
    schema = schema_of(spec, ctx.suite_dir)
    expected = "be JSON" + (" matching the schema" if schema is not None else "")
    found, data = loads_strict(ctx.output)
    if not found:
        hint = " (JSON inside other text: use contains-json)" if "{" in ctx.output else ""
        return Finding.of(False, expected, f"not JSON{hint}: {quote(ctx.output)}")
    if schema is not None:
        errors = schema_errors(schema, data)
        if errors:
            return Finding.of(False, expected, errors)
    return Finding.of(True, expected, f"got {quote(json.dumps(data))}")


@check("contains-json", "value", "schema", validate=_optional_schema)
def contains_json(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """A JSON object appears in the output, alone, fenced or inside text, read as promptfoo
    reads it: comments, trailing commas, unquoted keys and values and an object cut off at
    the end are accepted; a bare array or scalar is not an object (with a schema in
    ``value`` or ``schema``: some object in it validates)."""
    schema = schema_of(spec, ctx.suite_dir)
    expected = "contain JSON" + (" matching the schema" if schema is not None else "")
    first_errors = ""
    for data in extract_json_objects(ctx.output):
        errors = "" if schema is None else schema_errors(schema, data)
        if not errors:
            return Finding.of(True, expected, f"found {quote(json.dumps(data, default=str))}")
        first_errors = first_errors or errors
    if first_errors:
        return Finding.of(False, expected, f"no JSON in it matches; first: {first_errors}")
    return Finding.of(False, expected, f"no JSON in {quote(ctx.output)}")


def _need_schema(spec: CheckSpec) -> Iterator[Problem]:
    if spec.json_schema is not None and has_value(spec):
        yield "value", "give the JSON Schema in value or in schema, not both"
    elif spec.json_schema is not None:
        yield from schema_problems(spec.json_schema, "schema")
    elif has_value(spec):
        yield from schema_problems(spec.value, "value")
    else:
        yield "schema", "json-schema needs a JSON Schema in schema (or value)"


@check("json-schema", "value", "schema", validate=_need_schema)
def json_schema(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output is JSON valid against the JSON Schema (Draft 2020-12) in ``value`` or
    ``schema``; the reason lists the first errors."""
    schema = spec.json_schema if spec.json_schema is not None else spec.value
    if not isinstance(schema, dict):
        raise CheckError(f"{spec.type} needs a JSON Schema in value or schema")
    expected = "be JSON valid against the schema"
    found, data = parse_json_output(ctx.output)
    if not found:
        return Finding.of(False, expected, f"not JSON: {quote(ctx.output)}")
    errors = schema_errors(schema, data)
    return Finding.of(not errors, expected, errors or f"valid: {quote(json.dumps(data))}")


# --- fields ---------------------------------------------------------------------------------

_PATH_TOKEN = re.compile(
    r"""(?P<dot>\.)?(?P<name>[^.\[\]\s]+)"""
    r"""|\[(?P<index>-?\d+)\]"""
    r"""|\[(?P<quoted>"(?:[^"\\]|\\.)*"|'[^']*')\]"""
)


@lru_cache(maxsize=512)
def parse_path(path: str) -> tuple[str | int, ...]:
    """``a.b[0]["x.y"]`` → ``("a", "b", 0, "x.y")``; a leading ``$`` or ``$.`` is allowed.

    Raises:
        ValueError: The path cannot be read.
    """
    text = path.strip()
    text = text[2:] if text.startswith("$.") else text[1:] if text.startswith("$") else text
    parts: list[str | int] = []
    at = 0
    while at < len(text):
        match = _PATH_TOKEN.match(text, at)
        if match is None or (match["name"] and parts and not match["dot"]):
            raise ValueError(f"cannot read path {path!r} at character {at + 1}")
        if match["name"]:
            parts.append(match["name"])
        elif match["index"]:
            parts.append(int(match["index"]))
        else:
            quoted = match["quoted"]
            parts.append(json.loads(quoted) if quoted[0] == '"' else quoted[1:-1])
        at = match.end()
    if not parts:
        raise ValueError(f"path {path!r} is empty")
    return tuple(parts)


def _format_path(parts: Sequence[str | int]) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _walk(data: Any, parts: tuple[str | int, ...]) -> tuple[bool, Any]:
    """Follow ``parts`` into ``data``: ``(True, value)`` or ``(False, why it stopped)``."""
    for depth, part in enumerate(parts):
        here = _format_path(parts[:depth])
        if isinstance(data, list) and (
            isinstance(part, int) or (isinstance(part, str) and part.isdigit())
        ):
            index = int(part)
            if not -len(data) <= index < len(data):
                return False, f"{here} has {len(data)} items, no index {index}"
            data = data[index]
        elif isinstance(data, dict) and isinstance(part, str):
            if part not in data:
                return False, f"{here} has no key {part!r}"
            data = data[part]
        else:
            return False, f"{here} is {_json_kind(data)}, cannot take {part!r}"
    return True, data


def _json_kind(data: Any) -> str:
    if isinstance(data, dict):
        return "an object"
    if isinstance(data, list):
        return "an array"
    return f"the value {quote(json.dumps(data), 30)}"


def _need_path(spec: CheckSpec) -> Iterator[Problem]:
    if spec.path is None:
        yield "path", "json-field needs a path, e.g. path: a.b[0].c"
        return
    try:
        parse_path(spec.path)
    except ValueError as err:
        yield "path", f"{err}; expected e.g. a.b[0].c"


@check("json-field", "path", "value", validate=_need_path)
def json_field(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The field at ``path`` (``a.b[0].c``) of the JSON output equals ``value``; without
    ``value``, the field only has to exist."""
    if spec.path is None:
        raise CheckError("json-field needs a path, e.g. path: a.b[0].c")
    try:
        parts = parse_path(spec.path)
    except ValueError as err:
        raise CheckError(str(err)) from err
    where = _format_path(parts)
    compare = has_value(spec)
    expected = f"have {where} = {quote(json.dumps(spec.value))}" if compare else f"have {where}"
    found, data = parse_json_output(ctx.output)
    if not found:
        return Finding.of(False, expected, f"not JSON: {quote(ctx.output)}")
    present, field = _walk(data, parts)
    if not present:
        return Finding.of(False, expected, f"missing: {field}")
    seen = f"got {quote(json.dumps(field))}"
    return Finding.of(not compare or json_equal(field, spec.value), expected, seen)
