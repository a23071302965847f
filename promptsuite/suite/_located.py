"""Pydantic's validation errors as located one-line problems: file:line:col, case, field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from promptsuite import _schema as schema
from promptsuite.errors import ConfigError, Location
from promptsuite.suite._yaml import key_node, node_at


def _field_path(loc: tuple[int | str, ...], data: Any) -> tuple[str | None, str]:
    """(case id, dotted field path) for an error location."""
    case_id = None
    parts: list[str] = []
    current = data
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif isinstance(current, Mapping) and part in current:
            parts.append(f".{part}" if parts else part)
        else:
            continue  # a union tag, not a field
        if i >= 1 and loc[0] == "cases" and i == 1 and isinstance(current, list):
            entry = current[part] if isinstance(part, int) and part < len(current) else None
            if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                case_id = entry["id"]
        current = _step(current, part)
    return case_id, "".join(parts)


def _step(current: Any, part: int | str) -> Any:
    if isinstance(current, Mapping):
        return current.get(part)
    if isinstance(current, list) and isinstance(part, int) and part < len(current):
        return current[part]
    return None


def _describe(error: Mapping[str, Any], model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc[:-1])
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown field {loc[-1]!r}{hint}"
    message = str(error["msg"])
    got = error.get("input")
    if kind.endswith("_type") or kind in {"model_type", "dict_type", "list_type"}:
        return f"{message} (got {type(got).__name__} {_short(got)})"
    return message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields and part in fields:
            current = _inner_model(fields[part].annotation)
        else:
            current = {
                "inline": schema.PromptFile,
                "ref": schema.PromptRef,
            }.get(str(part), current)
    fields = getattr(current, "model_fields", None) or {}
    return sorted(f.alias or name for name, f in fields.items())


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def validation_errors(
    exc: ValidationError,
    model: type[BaseModel],
    root: yaml.Node,
    data: Any,
    file: str,
) -> list[ConfigError]:
    errors: list[ConfigError] = []
    seen: set[tuple[int, int]] = set()
    for error in exc.errors():
        loc = tuple(error["loc"])
        node = key_node(root, loc) if error["type"] == "extra_forbidden" else None
        node = node or node_at(root, loc)
        mark = node.start_mark
        position = (mark.line, mark.column)
        if position in seen:  # union branches repeat the same complaint
            continue
        seen.add(position)
        case_id, field = _field_path(loc, data)
        errors.append(
            ConfigError(
                _describe(error, model, loc),
                Location(file, mark.line + 1, mark.column + 1, case_id, field or None),
            )
        )
    return errors


def location(root: yaml.Node, loc: tuple[int | str, ...], data: Any, file: str) -> Location:
    mark = node_at(root, loc).start_mark
    case_id, field = _field_path(loc, data)
    return Location(file, mark.line + 1, mark.column + 1, case_id, field or None)
