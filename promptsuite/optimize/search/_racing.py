"""Racing: the auto search scores a candidate on the validation cases in rounds, against the
best candidate so far, and stops as soon as the answer is clear.

* **Rounds.** The validation cases are raced in one seeded order, the tags dealt in turn
  (:func:`race_order`), so every round covers the tags evenly and every candidate meets the
  same cases first; a candidate's rounds run back to back, so a local model keeps reusing
  the candidate's prompt prefix.
* **Dropped when clearly behind** (:func:`behind`), after a round: when it can no longer
  beat the best so far even if it passed every case left, or when the paired bootstrap
  interval of its per-case gain against the best so far, on the cases both were scored on,
  lies wholly below 0 (95% two-sided, so a one-sided 2.5% test per look; from
  :data:`MIN_RACE_CASES` cases). A dropped candidate is recorded with the cases it was
  scored on; it never becomes the best (only candidates scored on every validation case
  compete), so the best and the plateau compare like with like.
* **The search stops** once a candidate clearly reached the target on validation
  (:func:`clearly_reaches`: the Wilson lower bound of its pass rate, one-sided 95%, and
  its mean score at the target), or once the plateau the analysis will judge is decided
  and flat (the same :func:`~promptsuite.optimize.analysis.detect_plateau`, window, margin
  and seed as the analysis).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from promptsuite.optimize._records import Candidate, CaseScore, mean
from promptsuite.optimize.search._split import stratum
from promptsuite.stats import paired_bootstrap, wilson_interval
from promptsuite.suite import ResolvedCase

__all__ = [
    "MIN_RACE_CASES",
    "RACE_CONFIDENCE",
    "TARGET_CONFIDENCE",
    "behind",
    "clearly_reaches",
    "race_order",
    "rounds",
]

#: Two-sided confidence of the interval that drops a candidate (upper bound below 0).
RACE_CONFIDENCE = 0.95
#: Fewest shared cases the bootstrap rule judges on (the catch-up rule needs none).
MIN_RACE_CASES = 8
#: Smallest round; rounds are about a sixth of the validation cases.
MIN_ROUND = 4
#: Two-sided confidence of the Wilson interval that says the target is clearly reached.
TARGET_CONFIDENCE = 0.90


def race_order(cases: Sequence[ResolvedCase], seed: int) -> list[ResolvedCase]:
    """The validation cases in racing order: tags dealt in turn, each tag's cases seeded."""
    shared = frozenset.intersection(*(frozenset(c.tags) for c in cases)) if cases else frozenset()
    groups: dict[str, list[ResolvedCase]] = {}
    for case in cases:
        groups.setdefault(stratum(case, shared), []).append(case)
    rng = random.Random(f"promptsuite-race:{seed}")
    queues = []
    for name in sorted(groups):
        members = list(groups[name])
        rng.shuffle(members)
        queues.append(members)
    rng.shuffle(queues)
    order: list[ResolvedCase] = []
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    return order


def rounds(n: int) -> list[int]:
    """The sizes of the rounds ``n`` validation cases are raced in (about a sixth each)."""
    size = max(MIN_ROUND, math.ceil(n / 6))
    return [min(size, n - start) for start in range(0, n, size)]


def behind(best: Candidate, scored: Sequence[CaseScore], total: int, *, seed: int) -> str | None:
    """Why a candidate scored on ``scored`` (of ``total`` validation cases) is clearly behind
    the best so far, or None when it is still in the race.

    Args:
        best: The best candidate so far, scored on every validation case.
        scored: The candidate's scores so far.
        total: Validation cases.
        seed: Seed of the bootstrap.
    """
    theirs = {s.case_id: s.score for s in best.cases}
    ours = {s.case_id: s.score for s in scored if s.case_id in theirs}
    left = total - len(scored)
    best_total = math.fsum(theirs.values())
    if left and math.fsum(ours.values()) + left <= best_total + 1e-9:
        return (
            f"cannot beat candidate {best.index} ({best.val_score:.3f}) even by passing the "
            f"{left} cases left"
        )
    if len(ours) < MIN_RACE_CASES:
        return None
    shared = sorted(ours)
    boot = paired_bootstrap(
        [theirs[c] for c in shared],
        [ours[c] for c in shared],
        confidence=RACE_CONFIDENCE,
        seed=seed,
    )
    if boot.ci_high >= 0:
        return None
    return (
        f"clearly behind candidate {best.index}: {boot.mean_diff:+.3f} mean score on the "
        f"{boot.n_cases} cases both were scored on ({RACE_CONFIDENCE:.0%} CI "
        f"[{boot.ci_low:+.3f}, {boot.ci_high:+.3f}])"
    )


def clearly_reaches(candidate: Candidate, target: float) -> str | None:
    """Why the candidate clearly reached ``target`` on validation, or None.

    Clearly: the Wilson lower bound of its pass rate (one-sided 95%) is at the target, and
    so is its mean score, with each case counting its worst repeat."""
    cases = candidate.cases
    if not candidate.complete or not cases:
        return None
    passed = sum(1 for s in cases if s.passed)
    low, _ = wilson_interval(passed, len(cases), TARGET_CONFIDENCE)
    worst = mean([min(s.scores, default=0.0) for s in cases])
    if low < target or worst < target:
        return None
    return (
        f"candidate {candidate.index} clearly reached the target {target:g} on validation: "
        f"{passed} of {len(cases)} cases passed (one-sided 95% lower bound {low:.3f})"
    )
