"""``assert-set``: a group of checks scored as one, with its own threshold."""

from __future__ import annotations

from collections.abc import Iterator

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import num, score_threshold
from promptsuite.checks._registry import (
    CheckContext,
    Finding,
    Problem,
    check,
    check_problems,
    evaluate,
    outcome,
)
from promptsuite.errors import CheckError


def _need_checks(spec: CheckSpec) -> Iterator[Problem]:
    if not spec.checks:
        yield "assert", "assert-set needs assert: a list of checks"
        return
    for i, child in enumerate(spec.checks):
        for field, message in check_problems(child):
            where = f"check {i + 1}" + (f", field {field!r}" if field else "")
            yield "assert", f"{where}: {message}"
    yield from score_threshold(spec)


@check("assert-set", "assert", "threshold", validate=_need_checks)
async def assert_set(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The checks under ``assert`` pass as a group: all of them, or, with ``threshold``,
    enough that their weighted mean score reaches it; the score is that mean."""
    if not spec.checks:
        raise CheckError("assert-set needs assert: a list of checks")
    results = [await evaluate(child, ctx) for child in spec.checks]
    passed, value = outcome(results, spec.threshold)
    failed = [r for r in results if not r.passed and r.weight > 0]
    rule = "all to pass" if spec.threshold is None else f"score >= {num(spec.threshold)}"
    seen = f"{len(results) - len(failed)}/{len(results)} passed, score {value:.2f}"
    if failed:
        seen += f"; first failure: {failed[0].type}: {failed[0].reason}"
    return Finding(passed, value, f"have its {len(results)} grouped checks ({rule})", seen)
