"""Property-based tests of the loader and the renderer (hypothesis).

Whatever a file holds, loading it gives a suite or located one-line errors, never another
exception; whatever a template or a variable holds, rendering gives text or a
TemplateError, and never a way into Python's internals.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptsuite.errors import ConfigError, SuiteLoadError, TemplateError
from promptsuite.suite import load_suite
from promptsuite.template import render

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def load_or_errors(folder: Path, data: bytes) -> list[str] | None:
    """Load ``data`` as a suite: None when it loads, else its error lines."""
    shown = f"suites/s{next(_counter)}.yaml"
    path = folder / shown
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        load_suite(path, display=shown)
    except ConfigError as error:
        lines = (
            [str(e) for e in error.errors] if isinstance(error, SuiteLoadError) else [str(error)]
        )
        assert str(error).splitlines() == lines
        for line in lines:
            assert re.match(rf"{re.escape(shown)}:\d+(:\d+)?: \S", line), line
        return lines
    return None


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_load_or_give_located_errors(folder: Path, data: bytes) -> None:
    load_or_errors(folder, data)


@SETTINGS
@given(st.text(max_size=400))
def test_any_text_loads_or_gives_located_errors(folder: Path, text: str) -> None:
    load_or_errors(folder, text.encode("utf-8"))


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_trees = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "prompt",
        "cases",
        "models",
        "defaults",
        "name",
        "id",
        "vars",
        "expect",
        "type",
        "value",
        "user",
        "system",
        "repeat",
        "threshold",
        "tags",
        "weight",
        "schema",
        "file",
        "variants",
    ]
)
_suite_like = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=25,
)


@SETTINGS
@given(_trees | _suite_like)
def test_any_yaml_document_loads_or_gives_located_errors(folder: Path, tree: Any) -> None:
    load_or_errors(folder, yaml.safe_dump(tree, allow_unicode=True).encode("utf-8"))


_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,15}\Z")


@SETTINGS
@given(
    st.lists(_ids, min_size=1, max_size=8, unique=True),
    # Lone surrogates cannot be written to a UTF-8 file, so no suite can hold them.
    st.lists(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=30), min_size=8, max_size=8
    ),
)
def test_valid_suites_load_with_every_case_and_var(
    folder: Path, ids: list[str], values: list[str]
) -> None:
    suite = {
        "prompt": {"user": "{{ q }}"},
        "models": ["scripted"],
        "cases": [{"id": i, "vars": {"q": v}} for i, v in zip(ids, values, strict=False)],
    }
    shown = f"suites/v{next(_counter)}.yaml"
    path = folder / shown
    path.parent.mkdir(parents=True, exist_ok=True)
    # ASCII output escapes what the dumper would otherwise write raw as a line break (NEL).
    path.write_text(yaml.safe_dump(suite, allow_unicode=False), encoding="utf-8")
    loaded = load_suite(path, display=shown)
    assert [c.id for c in loaded.cases] == ids
    assert [c.vars["q"] for c in loaded.cases] == values[: len(ids)]


@SETTINGS
@given(st.text())
def test_variables_are_rendered_as_data(value: str) -> None:
    assert render("<{{ x }}>", {"x": value}) == f"<{value}>"


@SETTINGS
@given(st.text(max_size=60))
def test_any_template_renders_or_raises_a_template_error(source: str) -> None:
    try:
        result = render(source, {"x": 1, "s": "text", "xs": [1, 2], "d": {"k": "v"}})
    except TemplateError as error:
        assert "\n" not in str(error).strip() or "syntax" in str(error)
    else:
        assert isinstance(result, str)


_roots = st.sampled_from(
    [
        "''",
        "x",
        "s",
        "xs",
        "d",
        "cycler",
        "joiner",
        "namespace",
        "lipsum",
        "range",
        "dict",
        "xs.append",
        "d.items",
        "s.upper",
        "self",
        "loop",
        "config",
        "request",
    ]
)
_attrs = st.sampled_from(
    [
        "__class__",
        "__mro__",
        "__subclasses__",
        "__globals__",
        "__init__",
        "__builtins__",
        "__dict__",
        "__base__",
        "__bases__",
        "__self__",
        "__func__",
        "__code__",
        "gi_frame",
        "f_globals",
        "mro",
        "__import__",
        "_TemplateReference__context",
        "__getattribute__",
    ]
)
_access = st.sampled_from(["attr", "item", "filter", "call"])
_MARKERS = (
    "<module",
    "__builtins__",
    "<class 'object'>",
    "subclasses",
    "<frame",
    "<code",
    "function _",
    "os.",
    "sys.",
)


@st.composite
def injection(draw: st.DrawFn) -> str:
    expr = draw(_roots)
    for _ in range(draw(st.integers(1, 5))):
        name, how = draw(_attrs), draw(_access)
        if how == "attr":
            expr = f"{expr}.{name}"
        elif how == "item":
            expr = f"{expr}['{name}']"
        elif how == "filter":
            expr = f"({expr}|attr('{name}'))"
        else:
            expr = f"{expr}.{name}()"
    return "{{ " + expr + " }}"


@settings(max_examples=300, deadline=None, database=None)
@given(injection())
def test_template_injection_never_reaches_python_internals(source: str) -> None:
    try:
        output = render(source, {"x": 1, "s": "text", "xs": [1, 2], "d": {"k": "v"}})
    except TemplateError:
        return
    assert not any(marker in output for marker in _MARKERS), (source, output)


@SETTINGS
@given(injection())
def test_injection_payloads_in_vars_stay_text(payload: str) -> None:
    assert render("{{ q }}", {"q": payload}) == payload
