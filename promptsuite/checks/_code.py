"""The ``python`` check: a function of the suite's own decides.

``value: "module:function"``; the module is imported from the suite's folder (or
``sys.path``) and called as ``fn(output, context)``, where ``context = {"vars": ...,
"messages": [{"role", "content"}], "generation": {...}}``. It may be async. It returns one
of:

* ``bool``: pass or fail, score 1 or 0;
* a number in 0..1: the score; it passes when ``score >= threshold``, or, without a
  threshold, when ``score > 0`` (promptfoo's rule);
* a dict ``{"pass": bool, "score": number, "reason": str}`` (``pass`` or ``score`` may be
  left out; with a ``threshold``, a lower score fails);
* a tuple ``(bool or number, reason)``.

Anything else, or an exception, is a :class:`~promptsuite.errors.CheckError`: the case
errors instead of silently passing or failing.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from promptsuite._imports import is_reference, load_reference
from promptsuite._schema import CheckSpec
from promptsuite.checks._common import is_number, num, one_line, quote, score_threshold, text_value
from promptsuite.checks._registry import EPSILON, CheckContext, Finding, Problem, check
from promptsuite.errors import CheckError

_FUNCTIONS: dict[tuple[Path, str], Callable[..., Any]] = {}


def _need_reference(spec: CheckSpec) -> Iterator[Problem]:
    if not is_reference(spec.value):
        yield (
            "value",
            f"python needs value 'module:function' (e.g. checks:is_polite), got {spec.value!r}",
        )
    yield from score_threshold(spec)


@check("python", "value", "threshold", validate=_need_reference)
async def python(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """``module:function(output, context)`` from the suite's folder returns a bool, a score,
    ``{pass, score, reason}`` or ``(result, reason)``."""
    ref = text_value(spec)
    function = _function(ref, ctx.suite_dir)
    try:
        result = function(ctx.output, _context(ctx))
        if inspect.isawaitable(result):
            result = await result
    except Exception as err:  # user code: report any failure as an evaluation error
        raise CheckError(
            f"python check {ref!r} raised {type(err).__name__}: {one_line(str(err))}"
        ) from err
    passed, value, reason = _read_result(result, spec, ref)
    seen = f"score {value:.2f}, {'pass' if passed else 'fail'}"
    if spec.threshold is not None:
        seen += f" at threshold {num(spec.threshold)}"
    if reason:
        seen += f": {one_line(reason)}"
    return Finding(passed, value, f"pass python check {ref}", seen)


def _function(ref: str, suite_dir: Path) -> Callable[..., Any]:
    key = (suite_dir, ref)
    function = _FUNCTIONS.get(key)
    if function is None:
        function = _FUNCTIONS[key] = _import(ref, suite_dir)
    return function


def _import(ref: str, suite_dir: Path) -> Callable[..., Any]:
    if not is_reference(ref):
        raise CheckError(f"python value must be 'module:function', got {ref!r}")
    module_name, _, attr = ref.partition(":")
    _refuse_shadowed_module(module_name, suite_dir)
    try:
        function = load_reference(ref, search=suite_dir)
    except Exception as err:  # importing runs user code: any error means "cannot import"
        raise CheckError(
            f"python check {ref!r}: cannot import {module_name!r} from {suite_dir} or"
            f" sys.path: {type(err).__name__}: {err}"
        ) from err
    if not callable(function):
        raise CheckError(f"python check {ref!r}: {module_name} has no function {attr!r}")
    return function  # type: ignore[no-any-return]


def _refuse_shadowed_module(module_name: str, suite_dir: Path) -> None:
    """Refuse to call a same-named module another suite directory already imported."""
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    loaded_file = getattr(loaded, "__file__", None)
    local = suite_dir / f"{top}.py", suite_dir / top / "__init__.py"
    if loaded_file is None or not any(p.exists() for p in local):
        return
    if Path(loaded_file).resolve() not in {p.resolve() for p in local}:
        raise CheckError(
            f"python module {top!r} is already imported from {loaded_file}, so"
            f" {suite_dir / top} cannot be; give one of them another name"
        )


def _context(ctx: CheckContext) -> dict[str, Any]:
    return {
        "vars": dict(ctx.vars),
        "messages": [m.to_dict() for m in ctx.messages],
        "generation": ctx.generation.to_dict(),
    }


def _score_pass(value: float, threshold: float | None) -> bool:
    return value > 0 if threshold is None else value >= threshold - EPSILON


def _score(value: Any, ref: str) -> float:
    if not is_number(value) or math.isnan(value) or not 0 <= value <= 1:
        raise CheckError(f"python check {ref!r} returned score {value!r}; expected 0..1")
    return float(value)


def _read_result(result: Any, spec: CheckSpec, ref: str) -> tuple[bool, float, str]:
    """``(passed, score, reason)`` from any accepted return shape (see the module docs)."""
    reason = ""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
        result, reason = result
    elif isinstance(result, dict):
        raw = {str(k).lower(): v for k, v in result.items()}
        reason = str(raw.get("reason") or "")
        has_pass, has_score = "pass" in raw, "score" in raw
        if has_pass and not isinstance(raw["pass"], bool):
            raise CheckError(f"python check {ref!r} returned pass={raw['pass']!r}")
        if has_pass and has_score:
            value = _score(raw["score"], ref)
            meets = spec.threshold is None or value >= spec.threshold - EPSILON
            return raw["pass"] and meets, value, reason
        if has_pass:
            result = raw["pass"]
        elif has_score:
            result = raw["score"]
        else:
            raise CheckError(
                f"python check {ref!r} returned a dict without pass or score: {quote(repr(result))}"
            )
    if isinstance(result, bool):
        return result, float(result), reason
    if is_number(result):
        value = _score(result, ref)
        return _score_pass(value, spec.threshold), value, reason
    raise CheckError(
        f"python check {ref!r} returned {quote(repr(result))}; expected a bool, a score 0..1,"
        " a {pass, score, reason} dict or a (result, reason) tuple"
    )
