"""Reference answers of an optimization run: the suite's own, plus the run's verified outputs.

The suite's references (stated, or derived from the checks) follow the rule of
:mod:`promptsuite.references`. An optimization run adds **verified** references: outputs of
its candidates that passed a case on every repeat, used where the suite has none. The
fine-tuning export and the analysis share :func:`reference_answers`; the search itself uses
only the suite's references of train cases for its demos (never the run's outputs, never a
validation or test case).
"""

from __future__ import annotations

from promptsuite.optimize._records import CaseScore, OptimizationRun
from promptsuite.references import Reference, case_references
from promptsuite.suite import Suite


def reference_answers(
    run: OptimizationRun, suite: Suite | None = None
) -> tuple[dict[str, Reference], dict[str, str]]:
    """Find a reference answer for every case: the suite's own first, else a verified output.

    Args:
        run: The optimization run (its passing outputs are the verified answers).
        suite: The suite (its stated and derived references); without it only verified
            answers are found.

    Returns:
        ``(references, missing)``: case id -> reference, and case id -> why it has none.
    """
    verified = _verified_outputs(run)
    if suite is None:
        unlabelled = {c: "no candidate passed it" for c in run.split if c not in verified}
        return {c: r for c, r in verified.items() if c in run.split}, unlabelled
    own, why = case_references(suite)
    references: dict[str, Reference] = {}
    missing: dict[str, str] = {}
    for case in suite.cases:
        if case.id in own:
            references[case.id] = own[case.id]
        elif case.id in verified:
            references[case.id] = verified[case.id]
        else:
            missing[case.id] = f"no candidate passed it, and {why[case.id]}"
    return references, missing


def _verified_outputs(run: OptimizationRun) -> dict[str, Reference]:
    ranked = sorted(run.candidates, key=lambda c: (-c.val_score, c.index))
    results: list[tuple[int, str, CaseScore]] = []
    for candidate in ranked:
        results.extend((candidate.index, "validation", s) for s in candidate.cases)
        results.extend(
            (candidate.index, "test", s) for s in run.test_results.get(candidate.index, [])
        )
    found: dict[str, Reference] = {}
    for index, where, scored in results:
        if scored.case_id in found or not scored.passed or not scored.output.strip():
            continue
        found[scored.case_id] = Reference(
            scored.case_id,
            scored.output,
            "verified",
            f"output of candidate {index}, which passed it on every repeat ({where})",
        )
    return found
