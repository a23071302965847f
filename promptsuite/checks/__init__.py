"""Checks: each turns one model output into a scored, explained result.

A case lists its checks under ``expect``. Every check scores the output from 0 to 1, passes
or fails, and says in one line what it expected and what it saw. Any type can be negated
with a ``not-`` prefix (``not-contains``): the pass is inverted and the score becomes
``1 - score``. ``weight`` sets a check's share of the case score; ``metric`` names it in
reports. A case passes when every check with a positive weight passes, or, with a case
``threshold``, when the weighted mean score reaches it (promptfoo's rules).

The types come in families, one module each: text (``_text``), JSON (``_json``), the call's
latency, tokens and cost (``_generation``), code (``_code``: ``python``) and model-graded
(``_graded``: ``judge``). Each type is one function decorated with :func:`check`, which
declares its name, the fields it accepts and its load-time validator; the function's
docstring documents it (``promptsuite checks`` lists them all). Adding a type means adding
one decorated function and its tests.
"""

from promptsuite.checks import _code, _generation, _graded, _json, _text  # noqa: F401 - registers
from promptsuite.checks._json import json_candidates, parse_json_output, parse_path
from promptsuite.checks._registry import (
    NEGATION,
    CheckContext,
    CheckType,
    Finding,
    GradeFn,
    Outcome,
    Problem,
    check,
    check_problems,
    check_types,
    evaluate,
    has_value,
    known_types,
    outcome,
    score,
    split_type,
)
from promptsuite.results import CheckResult

__all__ = [
    "NEGATION",
    "CheckContext",
    "CheckResult",
    "CheckType",
    "Finding",
    "GradeFn",
    "Outcome",
    "Problem",
    "check",
    "check_problems",
    "check_types",
    "evaluate",
    "has_value",
    "json_candidates",
    "known_types",
    "outcome",
    "parse_json_output",
    "parse_path",
    "score",
    "split_type",
]
