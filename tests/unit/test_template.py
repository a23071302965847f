"""Rendering is strict about undefined variables and sandboxed."""

from __future__ import annotations

import pytest

from promptsuite.errors import TemplateError
from promptsuite.template import check_syntax, render, render_messages


def test_renders_variables_and_filters() -> None:
    assert render("Hi {{ name | upper }}!", {"name": "ann"}) == "Hi ANN!"
    assert render("{% for x in xs %}{{ x }},{% endfor %}", {"xs": [1, 2]}) == "1,2,"


def test_undefined_variable_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match="'nme' is undefined"):
        render("Hi {{ nme }}", {"name": "ann"}, what="user message #1")


def test_undefined_attribute_is_an_error() -> None:
    with pytest.raises(TemplateError, match="user message"):
        render("{{ order.id }}", {"order": {}}, what="user message")


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ x.__class__.__init__.__globals__ }}",
        "{{ [].append.__self__.__class__ }}",
    ],
)
def test_template_injection_cannot_reach_python_internals(payload: str) -> None:
    with pytest.raises(TemplateError):
        render(payload, {"x": 1})


@pytest.mark.parametrize(
    "source", ["{{ dict.foo }}", "{{ dict['foo'] }}", "{{ dict.__builtins__ }}", "{{ range.x }}"]
)
def test_a_missing_member_of_a_class_is_undefined_not_a_typing_alias(source: str) -> None:
    # dict['foo'] would be the alias dict[foo]; it rendered as the text "dict['foo']".
    with pytest.raises(TemplateError, match="has no attribute"):
        render(source, {"x": 1})


def test_classes_still_work_as_functions() -> None:
    assert render("{{ dict(a=1) }} {{ range(3) | list }}", {}) == "{'a': 1} [0, 1, 2]"


def test_variables_are_data_not_templates() -> None:
    assert render("{{ q }}", {"q": "{{ 7 * 7 }}"}) == "{{ 7 * 7 }}"


def test_mutating_vars_is_refused() -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ xs.append(1) }}", {"xs": []})


def test_check_syntax() -> None:
    assert check_syntax("ok {{ a }}") is None
    problem = check_syntax("bad {{ a ")
    assert problem is not None and "line 1" in problem


def test_render_messages_keeps_roles_and_order() -> None:
    messages = render_messages((("system", "S"), ("user", "U {{ v }}")), {"v": 1})
    assert [(m.role, m.content) for m in messages] == [("system", "S"), ("user", "U 1")]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'a' * 10**10 }}", "repetition too large"),
        ("{{ [0] * 2000000 }}", "repetition too large"),
        ("{{ 3 * 'ab' * 600000 }}", "repetition too large"),
        ("{{ 9 ** 99999999 }}", "power too large"),
    ],
)
def test_templates_cannot_build_huge_values(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(source, {})


def test_ordinary_arithmetic_still_works() -> None:
    assert render("{{ '-' * 20 }}|{{ 2 ** 10 }}|{{ n * 1.5 }}|{{ [1, 2] * 2 }}", {"n": 4}) == (
        "--------------------|1024|6.0|[1, 2, 1, 2]"
    )
