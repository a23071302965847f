"""Expectations templated from a case's vars, and data-file rows turned into cases.

As in promptfoo, a check's ``value`` (and ``rubric``) may use the case's variables:
``{type: equals, value: "{{ label }}"}``. Only strings with template syntax are rendered,
in the prompts' sandbox, so a plain value is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from promptsuite._schema import CaseRows, CheckSpec
from promptsuite.errors import TemplateError
from promptsuite.suite._rows import DataFile, Row
from promptsuite.template import render

_TEMPLATE_SYNTAX = ("{{", "{%", "{#")


def _is_template(text: str) -> bool:
    return any(mark in text for mark in _TEMPLATE_SYNTAX)


def _render_value(value: Any, variables: Mapping[str, Any], what: str) -> Any:
    if isinstance(value, str):
        return render(value, variables, what=what) if _is_template(value) else value
    if isinstance(value, list):
        return [_render_value(v, variables, f"{what}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _render_value(v, variables, f"{what}.{k}") for k, v in value.items()}
    return value


def render_check(spec: CheckSpec, variables: Mapping[str, Any], what: str) -> CheckSpec:
    """``spec`` with its value, rubric and grouped checks rendered over ``variables``.

    Raises:
        TemplateError: a template names an undefined variable or breaks the sandbox.
    """
    updates: dict[str, Any] = {}
    value = _render_value(spec.value, variables, f"{what}.value")
    if value != spec.value:
        updates["value"] = value
    if spec.rubric is not None and _is_template(spec.rubric):
        updates["rubric"] = render(spec.rubric, variables, what=f"{what}.rubric")
    if spec.checks:
        inner = [
            render_check(c, variables, f"{what}.assert[{i}]") for i, c in enumerate(spec.checks)
        ]
        if inner != spec.checks:
            updates["checks"] = inner
    return spec.model_copy(update=updates) if updates else spec


def render_checks(
    checks: tuple[CheckSpec, ...], variables: Mapping[str, Any], field: str = "expect"
) -> tuple[tuple[CheckSpec, ...], list[str]]:
    """Every check rendered, and the problems (one message each) of those that failed."""
    rendered: list[CheckSpec] = []
    problems: list[str] = []
    for i, spec in enumerate(checks):
        try:
            rendered.append(render_check(spec, variables, f"{field}[{i}]"))
        except TemplateError as exc:
            problems.append(str(exc))
            rendered.append(spec)
    return tuple(rendered), problems


def _tags(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if value is None or value == "":
        return []
    return [t for t in re.split(r"[,\s]+", str(value)) if t]


def row_case(
    entry: CaseRows, row: Row, data: DataFile, stem: str
) -> tuple[dict[str, Any], list[tuple[str | None, str]]]:
    """The case a row makes (as case-file fields) and its problems as (column, message)."""
    problems: list[tuple[str | None, str]] = []
    columns = entry.columns

    def column(name: str | None, role: str) -> Any:
        if name is None:
            return None
        if name not in row.values:
            problems.append((name, f"column {name!r} ({role}) is missing from this row"))
            return None
        return row.values[name]

    if columns.vars is None:
        mapped = dict(row.values)
    else:
        mapped = {var: column(name, f"columns.vars.{var}") for var, name in columns.vars.items()}
    variables = {**entry.vars, **mapped}
    context = {**entry.vars, **row.values, **mapped}

    def template(source: str | None, what: str) -> str | None:
        if source is None:
            return None
        try:
            return render(source, context, what=what)
        except TemplateError as exc:
            problems.append((None, str(exc)))
            return None

    if entry.id is not None:
        case_id = template(entry.id, "id")
    elif columns.id is not None:
        case_id = column(columns.id, "columns.id")
    elif "id" in row.values:
        case_id = row.values["id"]
    else:
        case_id = f"{stem}-{row.number}"
    description = (
        template(entry.description, "description")
        if entry.description is not None
        else column(columns.description, "columns.description")
    )
    expect, failures = render_checks(tuple(entry.expect), context)
    problems.extend((None, message) for message in failures)
    fields: dict[str, Any] = {
        "id": str(case_id) if case_id is not None else f"{stem}-{row.number}",
        "description": None if description is None else str(description),
        "vars": variables,
        "tags": [*entry.tags, *_tags(column(columns.tags, "columns.tags"))],
        "expect": list(expect),
        "threshold": entry.threshold,
        "repeat": entry.repeat,
        "reducer": entry.reducer,
        "min_pass_rate": entry.min_pass_rate,
        "reference": column(columns.reference, "columns.reference"),
        "transform": entry.transform,
    }
    return fields, problems


def missing_columns(entry: CaseRows, data: DataFile) -> Iterator[tuple[str, str]]:
    """(column, role) for each mapped column no row of the file has."""
    columns = entry.columns
    named = {
        "columns.id": columns.id,
        "columns.reference": columns.reference,
        "columns.tags": columns.tags,
        "columns.description": columns.description,
        **{f"columns.vars.{var}": name for var, name in (columns.vars or {}).items()},
    }
    for role, name in named.items():
        if name is not None and name not in data.columns:
            yield name, role
