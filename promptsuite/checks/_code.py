"""Code checks and transforms: a function or a snippet of the suite's own decides.

Code is named one of three ways, the same for the ``python`` check and for ``transform``:

* inline: an expression of ``output`` and ``context`` (``len(output) < 100``), or a body
  with ``return`` statements (several lines); ``json``, ``math`` and ``re`` are imported;
* ``file://path.py`` or ``file://path.py:function``, relative to the suite's folder (the
  function defaults to ``get_assert`` for checks, ``get_transform`` for transforms);
* ``module:function``, imported from the suite's folder (or ``sys.path``).

A function is called as ``fn(output, context)`` and may be async. ``context`` is
``{"vars", "prompt", "messages", "generation", "config", "logProbs"}`` for a check
(``prompt`` is the last user message) and ``{"vars", "prompt"}`` for a transform.

A ``python`` check's code returns one of:

* ``bool``: pass or fail, score 1 or 0;
* a number in 0..1: the score; it passes when ``score >= threshold``, or, without a
  threshold, when ``score > 0`` (promptfoo's rule);
* a dict ``{"pass": bool, "score": number, "reason": str}`` (``pass`` or ``score`` may be
  left out; with a ``threshold``, a lower score fails);
* a tuple ``(bool or number, reason)``.

Anything else, or an exception, is a :class:`~promptsuite.errors.CheckError`: the case
errors instead of silently passing or failing. ``not-python`` inverts the pass and keeps
the score, as promptfoo does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import is_number, num, one_line, quote, score_threshold
from promptsuite.checks._registry import EPSILON, CheckContext, Finding, Problem, check, has_value
from promptsuite.checks._scripts import call_code, code_problem, last_user_message, load_code, shown
from promptsuite.errors import CheckError


def _context(spec: CheckSpec, ctx: CheckContext) -> dict[str, Any]:
    logprobs = ctx.generation.logprobs
    return {
        "vars": dict(ctx.vars),
        "prompt": last_user_message(ctx.messages),
        "messages": [m.to_dict() for m in ctx.messages],
        "generation": ctx.generation.to_dict(),
        "config": dict(spec.config or {}),
        "logProbs": list(logprobs) if logprobs is not None else None,
    }


def _need_code(spec: CheckSpec) -> Iterator[Problem]:
    problem = code_problem(spec.value if has_value(spec) else None, "python")
    if problem:
        yield "value", problem
    yield from score_threshold(spec)


@check("python", "value", "threshold", "config", validate=_need_code, negation="keep-score")
async def python(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """Python code (an inline expression or body, ``file://x.py:fn`` or ``module:fn``)
    returns a bool, a score, ``{pass, score, reason}`` or ``(result, reason)``."""
    code = spec.value
    if not isinstance(code, str):
        raise CheckError(f"python needs code as value, got {code!r}")
    function = load_code(code, ctx.suite_dir, "get_assert")
    result = await call_code(code, function, ctx.output, _context(spec, ctx))
    passed, value, reason = _read_result(result, spec, code)
    seen = f"score {value:.2f}, {'pass' if passed else 'fail'}"
    if spec.threshold is not None:
        seen += f" at threshold {num(spec.threshold)}"
    if reason:
        seen += f": {one_line(reason)}"
    return Finding(passed, value, f"pass python check {one_line(code, 80)}", seen)


def _score_pass(value: float, threshold: float | None) -> bool:
    return value > 0 if threshold is None else value >= threshold - EPSILON


def _score(value: Any, ref: str) -> float:
    if not is_number(value) or math.isnan(value) or not 0 <= value <= 1:
        raise CheckError(f"{shown(ref)} returned score {value!r}; expected 0..1")
    return float(value)


def _read_result(result: Any, spec: CheckSpec, ref: str) -> tuple[bool, float, str]:
    """``(passed, score, reason)`` from any accepted return shape (see the module docs)."""
    reason = ""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
        result, reason = result
    elif isinstance(result, dict):
        raw = {str(k).lower(): v for k, v in result.items()}
        if "pass_" in raw and "pass" not in raw:
            raw["pass"] = raw["pass_"]
        reason = str(raw.get("reason") or "")
        has_pass, has_score = "pass" in raw, "score" in raw
        if has_pass and not isinstance(raw["pass"], bool):
            raise CheckError(f"{shown(ref)} returned pass={raw['pass']!r}")
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
                f"{shown(ref)} returned a dict without pass or score: {quote(repr(result))}"
            )
    if isinstance(result, bool):
        return result, float(result), reason
    if is_number(result):
        value = _score(result, ref)
        return _score_pass(value, spec.threshold), value, reason
    raise CheckError(
        f"{shown(ref)} returned {quote(repr(result))}; expected a bool, a score 0..1,"
        " a {pass, score, reason} dict or a (result, reason) tuple"
    )
