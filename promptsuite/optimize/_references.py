"""Reference answers of an optimization run: the suite's own, plus the run's verified outputs.

The suite's references (stated, or derived from the checks) follow the rule of
:mod:`promptsuite.references`; an output a person labelled passing (:mod:`promptsuite.labels`)
comes next. An optimization run adds two kinds where the suite has none:
**sampled** references of train cases (the best passing reply of the sampling stage, from the
task model or a teacher) and **verified** ones (outputs of its candidates that passed a case
on every repeat). The fine-tuning export and the analysis share :func:`reference_answers`;
the search itself uses only train cases' references for its demos (stated, derived or
sampled; never a candidate's output, never a validation or test case).
"""

from __future__ import annotations

from collections.abc import Iterable

from promptsuite.labels import labelled_references
from promptsuite.optimize._records import CaseScore, OptimizationRun, SampledCase, Sampling
from promptsuite.references import Reference, case_references
from promptsuite.suite import ResolvedCase, Suite


def own_references(
    suite: Suite, cases: Iterable[ResolvedCase] | None = None
) -> tuple[dict[str, Reference], dict[str, str]]:
    """The suite's own references: stated or derived
    (:func:`promptsuite.references.case_references`), else an output a person labelled
    passing (``suites/__labels__/SUITE.jsonl``, written by ``promptsuite review``).

    Returns:
        ``(references, missing)``: case id -> reference, and case id -> why it has none.
    """
    references, missing = case_references(suite, cases)
    if missing:
        for case_id, labelled in labelled_references(suite.path).items():
            if case_id in missing:
                references[case_id] = Reference(
                    case_id, labelled.output, "labelled", labelled.provenance
                )
                del missing[case_id]
    return references, missing


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
    sampled = {
        c: r for c, r in sampled_references(run.sampling).items() if run.split.get(c) == "train"
    }
    verified = {**_verified_outputs(run), **sampled}
    if suite is None:
        unlabelled = {c: "no candidate passed it" for c in run.split if c not in verified}
        return {c: r for c, r in verified.items() if c in run.split}, unlabelled
    own, why = own_references(suite)
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


def sampled_references(sampling: Sampling | None) -> dict[str, Reference]:
    """The references a sampling stage kept, by case id (it samples train cases only)."""
    if sampling is None:
        return {}
    return {
        case.case_id: sampled_reference(case, sampling)
        for case in sampling.cases
        if case.reference is not None
    }


def sampled_reference(case: SampledCase, sampling: Sampling) -> Reference:
    """One sampled case's kept reply as a reference, with its provenance in words."""
    assert case.reference is not None and case.source is not None
    who = sampling.teacher if case.source == "teacher" else sampling.model
    which = (
        "its reply at the suite's temperature"
        if case.sample == -1
        else f"sample {(case.sample or 0) + 1} at temperature {sampling.temperature:g}"
    )
    trimmed = ", trimmed to the checks' format," if case.repaired else ""
    detail = (
        f"{which} from {who}{trimmed} passing its checks (score "
        f"{case.reference_score or 0:.2f}; {case.tried} replies scored)"
    )
    return Reference(case.case_id, case.reference, case.source, detail)


def _verified_outputs(run: OptimizationRun) -> dict[str, Reference]:
    # Candidates scored on every validation case first: a dropped one's mean is not comparable.
    ranked = sorted(run.candidates, key=lambda c: (not c.complete, -c.val_score, c.index))
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
