"""The python check: a function of the suite's own, imported from the suite's folder."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from promptsuite.checks import CheckResult
from promptsuite.errors import CheckError
from tests.unit.checks.check_helpers import HERE, check

PY_MODULE = """
    import asyncio

    def true_(output, context):
        return True

    def false_(output, context):
        return False

    def number(output, context):
        return 0.7

    def zero(output, context):
        return 0

    def mapping(output, context):
        return {"pass": True, "score": 0.9, "reason": "fine"}

    def mapping_fail(output, context):
        return {"pass": False, "score": 0.2, "reason": "bad tone"}

    def mapping_pass_only(output, context):
        return {"PASS": True}

    def mapping_score_only(output, context):
        return {"score": 0.3, "reason": "meh"}

    def pair(output, context):
        return (False, "too short")

    def score_pair(output, context):
        return (0.6, "partly")

    def uses_context(output, context):
        return (
            context["vars"]["name"] in output
            and context["messages"][1] == {"role": "user", "content": "Can I get my money back?"}
            and context["generation"]["completion_tokens"] == 7
        )

    async def coroutine(output, context):
        await asyncio.sleep(0)
        return 1.0

    def junk_none(output, context):
        return None

    def junk_str(output, context):
        return "yes"

    def junk_list(output, context):
        return [True]

    def junk_dict(output, context):
        return {"verdict": "good"}

    def junk_pass(output, context):
        return {"pass": "yes"}

    def junk_range(output, context):
        return 7

    def junk_nan(output, context):
        return float("nan")

    def raises(output, context):
        raise ValueError("boom")

    not_callable = 3
"""


@pytest.fixture
def py_module(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Write PY_MODULE as a uniquely named module in tmp_path; return a ref builder."""
    name = f"checks_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(PY_MODULE), encoding="utf-8")
    yield lambda function: f"{name}:{function}"
    sys.modules.pop(name, None)


def run_python(ref: str, tmp_path: Path, threshold: float | None = None, **ctx: Any) -> CheckResult:
    spec: dict[str, Any] = {"type": "python", "value": ref}
    if threshold is not None:
        spec["threshold"] = threshold
    return check(spec, "Hi Ada", suite_dir=tmp_path, **ctx)


@pytest.mark.parametrize(
    ("function", "threshold", "passed", "score", "reason"),
    [
        ("true_", None, True, 1.0, None),
        ("false_", None, False, 0.0, None),
        ("number", None, True, 0.7, None),  # promptfoo: a bare number passes when > 0
        ("zero", None, False, 0.0, None),
        ("number", 0.8, False, 0.7, "threshold 0.8"),
        ("number", 0.7, True, 0.7, None),
        ("mapping", None, True, 0.9, "fine"),
        ("mapping", 0.95, False, 0.9, "fine"),
        ("mapping_fail", None, False, 0.2, "bad tone"),
        ("mapping_pass_only", None, True, 1.0, None),
        ("mapping_score_only", None, True, 0.3, "meh"),
        ("mapping_score_only", 0.5, False, 0.3, "meh"),
        ("pair", None, False, 0.0, "too short"),
        ("score_pair", 0.5, True, 0.6, "partly"),
        ("coroutine", None, True, 1.0, None),
    ],
)
def test_python_accepted_returns(
    py_module: Callable[[str], str],
    tmp_path: Path,
    function: str,
    threshold: float | None,
    passed: bool,
    score: float,
    reason: str | None,
) -> None:
    result = run_python(py_module(function), tmp_path, threshold)
    assert result.passed is passed
    assert result.score == pytest.approx(score)
    assert "pass python check" in result.reason
    if reason:
        assert reason in result.reason


def test_python_receives_output_and_context(
    py_module: Callable[[str], str], tmp_path: Path
) -> None:
    result = run_python(py_module("uses_context"), tmp_path, vars={"name": "Ada"},
                        completion_tokens=7)  # fmt: skip
    assert result.passed, result.reason


def test_python_negated(py_module: Callable[[str], str], tmp_path: Path) -> None:
    result = check({"type": "not-python", "value": py_module("true_")}, "x", suite_dir=tmp_path)
    # promptfoo's rule: not-python inverts the pass and keeps the returned score.
    assert (result.passed, result.score) == (False, 1.0)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("junk_none", "returned 'None'"),
        ("junk_str", "returned \"'yes'\""),
        ("junk_list", "expected a bool, a score 0..1"),
        ("junk_dict", "without pass or score"),
        ("junk_pass", "pass='yes'"),
        ("junk_range", "returned score 7; expected 0..1"),
        ("junk_nan", "returned score nan"),
        ("raises", "raised ValueError: boom"),
        ("not_callable", "has no function 'not_callable'"),
        ("missing", "has no function 'missing'"),
    ],
)
def test_python_junk_is_an_error(
    py_module: Callable[[str], str], tmp_path: Path, function: str, message: str
) -> None:
    with pytest.raises(CheckError, match=message.replace("(", r"\(")):
        run_python(py_module(function), tmp_path)


def test_python_import_errors(tmp_path: Path) -> None:
    name = f"broken_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('bad module')\n", encoding="utf-8")
    path_before = list(sys.path)
    with pytest.raises(CheckError, match=r"cannot import .*RuntimeError: bad module"):
        run_python(f"{name}:f", tmp_path)
    with pytest.raises(CheckError, match="cannot import 'no_such_module_"):
        run_python(f"no_such_module_{uuid.uuid4().hex}:f", tmp_path)
    assert sys.path == path_before


def test_python_imports_packages_relative_to_suite_dir(tmp_path: Path) -> None:
    package = f"pkg_{uuid.uuid4().hex}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / package / "rules.py").write_text(
        "def short(output, context):\n    return len(output) < 10\n", encoding="utf-8"
    )
    try:
        assert run_python(f"{package}.rules:short", tmp_path).passed
        assert sys.path.count(str(tmp_path)) == 0
    finally:
        sys.modules.pop(f"{package}.rules", None)
        sys.modules.pop(package, None)


@pytest.mark.parametrize(
    "ref",
    [
        "helpers_for_python_check:mentions_refund",
        "tests.unit.checks.helpers_for_python_check:mentions_refund",
    ],
)
def test_python_imports_from_suite_dir_or_sys_path(ref: str, tmp_path: Path) -> None:
    suite_dir = HERE if ref.startswith("helpers") else tmp_path
    result = check({"type": "python", "value": ref}, "Refund issued.", suite_dir=suite_dir)
    assert result.passed
    assert "mentions a refund" in result.reason


def test_python_refuses_a_same_named_module_from_another_suite(tmp_path: Path) -> None:
    name = f"clash_{uuid.uuid4().hex}"
    first, second = tmp_path / "one", tmp_path / "two"
    for directory, answer in ((first, "True"), (second, "False")):
        directory.mkdir()
        (directory / f"{name}.py").write_text(
            f"def f(output, context):\n    return {answer}\n", encoding="utf-8"
        )
    try:
        assert run_python(f"{name}:f", first).passed
        with pytest.raises(CheckError, match="already imported"):
            run_python(f"{name}:f", second)
    finally:
        sys.modules.pop(name, None)
