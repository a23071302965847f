"""Where prompting fails: every case's and every tag's story across the candidates."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from promptsuite.optimize._records import Candidate, CaseScore, OptimizationRun, mean
from promptsuite.stats import wilson_interval

CaseStatus = Literal["resistant", "unreliable", "unstable", "solved-elsewhere", "solved"]
"""How a case fared across the candidates; see :class:`CaseInsight`."""


@dataclass(frozen=True)
class CaseInsight:
    """One case across every candidate that was scored on it.

    ``status`` is the first that applies:

    * ``resistant``: no candidate passed it on any repeat;
    * ``unreliable``: the best candidate passes it on some repeats, not all;
    * ``unstable``: candidates disagree and keep changing their minds: the outcome flips at
      least twice in evaluation order, and the minority side (passing or failing candidates)
      holds at least 2 candidates and at least 20% of them;
    * ``solved-elsewhere``: the best candidate fails it, but another candidate passed it;
    * ``solved``: the best candidate passes it on every repeat.

    Attributes:
        case_id: The case.
        split: ``train``, ``val`` or ``test``.
        tags: Its tags.
        status: See above.
        candidates_seen: Candidates scored on it.
        candidates_passed: Of those, the ones that passed it on every repeat.
        flips: Pass/fail changes between consecutive candidates in evaluation order.
        baseline_passed: Whether the user's prompt passed it (None if not scored on it).
        best_passed: Whether the best candidate passed it (None if not scored on it).
        best_score: The best candidate's score on it (None if not scored on it).
        best_pass_rate: Fraction of the best candidate's repeats that passed.
        best_pass_interval: Wilson 95% interval of that rate.
        best_repeats: The best candidate's repeats of it.
        reference: ``verified``, ``derived`` or None (needs a reference answer).
    """

    case_id: str
    split: str
    tags: tuple[str, ...]
    status: CaseStatus
    candidates_seen: int
    candidates_passed: int
    flips: int
    baseline_passed: bool | None
    best_passed: bool | None
    best_score: float | None
    best_pass_rate: float | None
    best_pass_interval: tuple[float, float] | None
    best_repeats: int
    reference: str | None


@dataclass(frozen=True)
class TagInsight:
    """One tag: how its validation cases fared.

    Attributes:
        tag: The tag.
        n_cases: Validation cases carrying it.
        baseline_score: The user's prompt's mean score on them.
        best_score: The best candidate's mean score on them.
        ceiling: The highest mean score any single candidate reached on them: where this
            tag plateaus.
        ceiling_index: The candidate reaching the ceiling.
        resistant: Of its cases, those no candidate solved.
        unstable: Of its cases, the unstable or unreliable ones.
    """

    tag: str
    n_cases: int
    baseline_score: float
    best_score: float
    ceiling: float
    ceiling_index: int
    resistant: int
    unstable: int


def case_insights(
    run: OptimizationRun, baseline: int, best: int, references: Mapping[str, Any]
) -> tuple[CaseInsight, ...]:
    """Every case scored in the run (validation and test), worst status first."""
    history: dict[str, list[tuple[int, CaseScore]]] = {}
    for candidate in run.candidates:
        for score in candidate.cases:
            history.setdefault(score.case_id, []).append((candidate.index, score))
    for index in sorted(run.test_results):
        for score in run.test_results[index]:
            history.setdefault(score.case_id, []).append((index, score))
    insights = []
    for case_id, seen in history.items():
        by_index = dict(seen)
        outcomes = [s.passed for _, s in seen]
        passed = sum(outcomes)
        failed = len(outcomes) - passed
        flips = sum(1 for a, b in itertools.pairwise(outcomes) if a != b)
        top = by_index.get(best)
        low = by_index.get(baseline)
        rate = (sum(top.passes) / len(top.passes)) if top and top.passes else None
        status: CaseStatus
        if not any(any(s.passes) for _, s in seen):
            status = "resistant"
        elif top is not None and 0 < sum(top.passes) < len(top.passes):
            status = "unreliable"
        elif flips >= 2 and min(passed, failed) >= max(2, math.ceil(0.2 * len(outcomes))):
            status = "unstable"
        elif (top is not None and not top.passed) or (top is None and failed > 0):
            status = "solved-elsewhere"
        else:
            status = "solved"
        reference = references.get(case_id)
        insights.append(
            CaseInsight(
                case_id=case_id,
                split=run.split.get(case_id, seen[0][1].split),
                tags=tuple(seen[0][1].tags),
                status=status,
                candidates_seen=len(outcomes),
                candidates_passed=passed,
                flips=flips,
                baseline_passed=low.passed if low else None,
                best_passed=top.passed if top else None,
                best_score=top.score if top else None,
                best_pass_rate=rate,
                best_pass_interval=wilson_interval(sum(top.passes), len(top.passes))
                if top and top.passes
                else None,
                best_repeats=len(top.passes) if top else 0,
                reference=getattr(reference, "source", None),
            )
        )
    order = {"resistant": 0, "unreliable": 1, "unstable": 2, "solved-elsewhere": 3, "solved": 4}
    return tuple(sorted(insights, key=lambda c: (order[c.status], c.case_id)))


def tag_insights(
    candidates: Sequence[Candidate], baseline: int, best: int, cases: Sequence[CaseInsight]
) -> tuple[TagInsight, ...]:
    """Every tag of the validation cases, lowest ceiling first.

    The means (and so the ceiling) are those of the candidates scored on every validation
    case: one racing dropped was scored on some of a tag's cases only."""
    tags = sorted({t for c in candidates for s in c.cases for t in s.tags})
    status = {c.case_id: c.status for c in cases}
    compared = [c for c in candidates if c.complete] or list(candidates)
    rows = []
    for tag in tags:
        means: dict[int, float] = {}
        members: set[str] = {s.case_id for c in candidates for s in c.cases if tag in s.tags}
        for candidate in compared:
            tagged = [s for s in candidate.cases if tag in s.tags]
            if tagged:
                means[candidate.index] = mean([s.score for s in tagged])
        ceiling_index = max(means, key=lambda i: (means[i], -i))
        rows.append(
            TagInsight(
                tag=tag,
                n_cases=len(members),
                baseline_score=means.get(baseline, 0.0),
                best_score=means.get(best, 0.0),
                ceiling=means[ceiling_index],
                ceiling_index=ceiling_index,
                resistant=sum(1 for m in members if status.get(m) == "resistant"),
                unstable=sum(1 for m in members if status.get(m) in ("unstable", "unreliable")),
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.ceiling, r.best_score, r.tag)))
