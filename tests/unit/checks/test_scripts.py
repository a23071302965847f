"""Code a suite names (inline Python, ``file://x.py:fn``, ``module:fn``) for ``python``
checks and ``transform``s, and ``assert-set`` groups."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from promptsuite._schema import CheckSpec
from promptsuite.checks import score
from promptsuite.errors import CheckError
from tests.unit.checks.check_helpers import check, make_ctx, problems


@pytest.mark.parametrize(
    ("code", "output", "passed", "score"),
    [
        ("len(output) > 3", "abcd", True, 1.0),
        ("len(output) > 3", "ab", False, 0.0),
        ("re.search(r'\\d+', output) is not None", "a1", True, 1.0),
        ("json.loads(output)['n'] / 10", '{"n": 7}', True, 0.7),
        ("x = output.split()\nreturn {'pass': len(x) == 2, 'score': 0.5, 'reason': 'two'}",
         "a b", True, 0.5),
        ("\n    if 'a' in output:\n        return True\n    return False\n", "xyz", False, 0.0),
    ],
)  # fmt: skip
def test_inline_python(code: str, output: str, passed: bool, score: float) -> None:
    result = check({"type": "python", "value": code}, output)
    assert (result.passed, result.score) == (passed, pytest.approx(score))


def test_inline_python_errors_are_check_errors() -> None:
    with pytest.raises(CheckError, match="raised ZeroDivisionError"):
        check({"type": "python", "value": "1 / 0"}, "x")


def test_python_file_with_default_and_named_functions(tmp_path: Path) -> None:
    (tmp_path / "grading").mkdir()
    (tmp_path / "grading" / "assert.py").write_text(
        "def get_assert(output, context):\n"
        "    return {'pass': output == context['vars']['want'], 'score': 1, 'reason': 'eq'}\n"
        "def short(output, context):\n"
        "    return len(output) <= context['config']['limit']\n"
    )
    ok = check({"type": "python", "value": "file://grading/assert.py"}, "yes",
               suite_dir=tmp_path, vars={"want": "yes"})  # fmt: skip
    assert ok.passed
    limited = check({"type": "python", "value": "file://grading/assert.py:short",
                     "config": {"limit": 2}}, "long", suite_dir=tmp_path)  # fmt: skip
    assert not limited.passed
    with pytest.raises(CheckError, match="no Python file"):
        check({"type": "python", "value": "file://missing.py"}, "x", suite_dir=tmp_path)
    with pytest.raises(CheckError, match="has no function 'nope'"):
        check({"type": "python", "value": "file://grading/assert.py:nope"}, "x",
              suite_dir=tmp_path)  # fmt: skip


@pytest.mark.parametrize(
    ("transform", "check_spec", "output", "passed"),
    [
        ("output.strip().lower()", {"type": "equals", "value": "paris"}, "  PARIS\n", True),
        ("json.loads(output)['city']", {"type": "equals", "value": "Paris"}, '{"city": "Paris"}',
         True),
        ("json.loads(output)", {"type": "is-json"}, '{"a": [1]}', True),
        ("return output[::-1]", {"type": "starts-with", "value": "c"}, "abc", True),
    ],
)  # fmt: skip
def test_check_transform(
    transform: str, check_spec: dict[str, object], output: str, passed: bool
) -> None:
    assert check({**check_spec, "transform": transform}, output).passed is passed


def test_transform_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("def get_transform(output, context):\n    return output[:3]\n")
    spec = {"type": "equals", "value": "abc", "transform": "file://t.py"}
    assert check(spec, "abcdef", suite_dir=tmp_path).passed


def test_a_transform_returning_none_is_an_error() -> None:
    with pytest.raises(CheckError, match="returned None"):
        check({"type": "contains", "value": "x", "transform": "None"}, "x")


def test_a_case_transform_applies_before_every_check() -> None:
    specs = [CheckSpec.model_validate(s) for s in (
        {"type": "equals", "value": "hello"},
        {"type": "contains", "value": "ell", "transform": "output.upper().lower()"},
    )]  # fmt: skip
    outcome = asyncio.run(score(specs, make_ctx("  HELLO "), None, "output.strip().lower()"))
    assert outcome.passed, [r.reason for r in outcome.results]


def test_transform_syntax_is_checked_at_load() -> None:
    assert problems({"type": "contains", "value": "x", "transform": "output."})[0][0] == (
        "transform"
    )


def test_assert_set_inside_an_assert_set_and_negated() -> None:
    inner = {"type": "assert-set", "assert": [{"type": "contains", "value": "a"}]}
    outer = {"type": "assert-set", "threshold": 0.5,
             "assert": [inner, {"type": "contains", "value": "z"}]}  # fmt: skip
    result = check(outer, "abc")
    assert (result.passed, result.score) == (True, 0.5)
    negated = check({**outer, "type": "not-assert-set"}, "abc")
    assert (negated.passed, negated.score) == (False, 0.5)
    assert "1/2 passed" in result.reason


def test_a_json_schema_from_a_file_beside_the_suite(tmp_path: Path) -> None:
    (tmp_path / "schema.yaml").write_text("type: object\nrequired: [id]\n")
    spec = {"type": "is-json", "value": "file://schema.yaml"}
    assert problems(spec) == []
    assert check(spec, '{"id": 1}', suite_dir=tmp_path).passed
    assert not check(spec, '{"x": 1}', suite_dir=tmp_path).passed
    with pytest.raises(CheckError, match="cannot read the schema file"):
        check({"type": "contains-json", "value": "file://nope.json"}, "{}", suite_dir=tmp_path)
