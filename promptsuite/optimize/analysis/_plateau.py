"""Plateau detection: is the best-so-far validation score still climbing, or has it flattened?

The search evaluates candidate prompts one after another on the validation cases. This module
reads that trajectory and decides whether the best-so-far score is still climbing, with the
same statistics as the regression gate: a paired bootstrap CI over cases
(:func:`promptsuite.stats.paired_bootstrap`); :func:`estimate_gain` extrapolates what a longer
search might still gain. The definitions are in ``docs/optimize.md`` ("Plateau and
verdicts"); everything here is pure standard-library Python, deterministic for a given seed.
The verdict that reads this evidence is :mod:`~promptsuite.optimize.analysis._advice`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promptsuite.stats import CASES_NEEDED_CAP, paired_bootstrap, required_cases

DEFAULT_MARGIN = 0.01
"""Smallest mean-score gain over the window that counts as "still improving"."""

#: Two-sided confidence of the plateau's interval: its lower bound is a one-sided 90% bound.
#: Calibrated in ``benchmarks/plateau_calibration.py``: 95% called most runs that were still
#: improving a plateau, 80% keeps flat runs at >= 97% plateau and halves that error.
PLATEAU_CONFIDENCE = 0.80

MIN_WINDOW = 3


@dataclass(frozen=True)
class Plateau:
    """Whether the best-so-far validation score has stopped improving.

    The best-so-far candidate at the end of the run is compared, case by case on the
    validation split, with the best-so-far candidate ``window`` candidates earlier. The run
    has plateaued when the lower bound of the paired bootstrap CI of that gain is at most
    ``margin``: the last ``window`` candidates did not demonstrably improve by more than the
    margin.

    Attributes:
        decided: False when the run has no more than ``window`` candidates (too early).
        plateaued: The verdict; False when not ``decided``.
        window: Candidates looked back over.
        margin: The smallest gain that counts as an improvement.
        confidence: Two-sided confidence of the interval.
        gain: Mean per-case score gain of the final best over the best at the window start.
        ci_low: Lower bound of the gain's bootstrap interval.
        ci_high: Upper bound of the gain's bootstrap interval.
        sd_gain: Standard deviation of the per-case gains.
        n_cases: Validation cases both candidates were scored on.
        start_index: Candidate index of the best-so-far at the window start (None if undecided).
        best_index: Candidate index of the final best.
        plateau_point: When plateaued, the first candidate whose score the final best does
            not beat by more than the margin: where the curve flattened.
        cases_to_decide: When the interval straddles the margin, the validation cases that
            would settle it (the gate's ``required_cases``); None otherwise.
        reason: One line a person can read.
    """

    decided: bool
    plateaued: bool
    window: int
    margin: float
    confidence: float
    gain: float
    ci_low: float
    ci_high: float
    sd_gain: float
    n_cases: int
    start_index: int | None
    best_index: int
    plateau_point: int | None
    cases_to_decide: int | None
    reason: str


@dataclass(frozen=True)
class GainEstimate:
    """What extending the search might still gain, extrapolated from the recent slope.

    Attributes:
        per_candidate: Observed gain per candidate over the window.
        per_candidate_low: Lower CI bound of that slope.
        per_candidate_high: Upper CI bound of that slope.
        extra_candidates: The extension the estimate is for.
        expected: Linear extrapolation over ``extra_candidates``, capped at the room left.
        low: Its lower bound (at least 0).
        high: Its upper bound, capped at the room left (1 - current best score).
        candidates_to_target: At the observed slope, candidates until the target; None when
            the slope is not positive or the target is already reached.
    """

    per_candidate: float
    per_candidate_low: float
    per_candidate_high: float
    extra_candidates: int
    expected: float
    low: float
    high: float
    candidates_to_target: int | None


def default_window(budget: int, n_candidates: int) -> int:
    """The window used when none is given: a quarter of the budget, at least 3 candidates."""
    return max(MIN_WINDOW, round(0.25 * max(budget, n_candidates)))


def best_so_far(scores: Sequence[float], complete: Sequence[bool] | None = None) -> list[int]:
    """Position of the best score among positions ``0..k``, for every ``k``; ties keep the first.

    With ``complete``, only candidates scored on every validation case take the title from
    the first one (a candidate dropped by racing was scored on part of them: its mean is not
    comparable, and it was dropped for being behind)."""
    positions: list[int] = []
    for position, score in enumerate(scores):
        eligible = complete is None or complete[position]
        if not positions or (eligible and score > scores[positions[-1]]):
            positions.append(position)
        else:
            positions.append(positions[-1])
    return positions


def detect_plateau(
    indices: Sequence[int],
    scores: Sequence[float],
    case_scores: Sequence[Mapping[str, float]],
    *,
    window: int,
    margin: float = DEFAULT_MARGIN,
    confidence: float = PLATEAU_CONFIDENCE,
    seed: int = 0,
    resamples: int = 10_000,
    complete: Sequence[bool] | None = None,
) -> Plateau:
    """Decide whether a search trajectory has plateaued.

    Args:
        indices: Candidate indices, in evaluation order.
        scores: Each candidate's validation score (what the search ranked them by).
        case_scores: Each candidate's per-case validation scores, case id -> score.
        window: Candidates to look back over (K); at least 1.
        margin: The smallest mean-score gain that counts as an improvement (>= 0).
        confidence: Two-sided confidence of the bootstrap interval.
        seed: Bootstrap seed.
        resamples: Bootstrap resamples.
        complete: Whether each candidate was scored on every validation case (default:
            all were); only those can be the best so far (:func:`best_so_far`), so the
            comparison is between candidates scored on the same cases.

    Returns:
        The plateau decision and its evidence.

    Raises:
        ValueError: If the sequences are empty or differ in length, or a setting is out of range.
    """
    if not len(indices) == len(scores) == len(case_scores):
        raise ValueError("indices, scores and case_scores must have one entry per candidate")
    if not scores:
        raise ValueError("a trajectory needs at least one candidate")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if margin < 0:
        raise ValueError(f"margin must be non-negative, got {margin}")
    if complete is not None and len(complete) != len(scores):
        raise ValueError("complete must have one entry per candidate")
    best = best_so_far(scores, complete)
    end = best[-1]
    if len(scores) <= window:
        return Plateau(
            decided=False,
            plateaued=False,
            window=window,
            margin=margin,
            confidence=confidence,
            gain=0.0,
            ci_low=0.0,
            ci_high=0.0,
            sd_gain=0.0,
            n_cases=0,
            start_index=None,
            best_index=indices[end],
            plateau_point=None,
            cases_to_decide=None,
            reason=(
                f"too early to tell: {len(scores)} candidates, and a plateau is judged over "
                f"the last {window} after a first one"
            ),
        )
    start = best[len(scores) - 1 - window]

    def compare(earlier: int) -> tuple[float, float, float, float, int]:
        shared = sorted(set(case_scores[earlier]) & set(case_scores[end]))
        if not shared:
            gain = scores[end] - scores[earlier]
            return gain, gain, gain, 0.0, 0
        boot = paired_bootstrap(
            [case_scores[earlier][c] for c in shared],
            [case_scores[end][c] for c in shared],
            resamples=resamples,
            confidence=confidence,
            seed=seed,
        )
        return boot.mean_diff, boot.ci_low, boot.ci_high, boot.sd_diff, boot.n_cases

    gain, low, high, sd, n_cases = compare(start)
    plateaued = low <= margin
    point = None
    if plateaued:
        for position in sorted(set(best)):
            if position == end or compare(position)[1] <= margin:
                point = indices[position]
                break
    to_decide = None
    if low <= margin < high and n_cases and sd > 0:
        to_decide = required_cases(sd, abs(gain - margin), confidence)
    interval = (
        f"the best score moved {gain:+.3f} over the last {window} candidates "
        f"({confidence:.0%} CI [{low:+.3f}, {high:+.3f}] over {n_cases} cases)"
    )
    if plateaued:
        reason = f"plateaued: {interval}, not clearly more than the {margin:g} margin"
        if to_decide is not None:
            need = f"{to_decide}" if to_decide != CASES_NEEDED_CAP else f"over {CASES_NEEDED_CAP}"
            reason += f"; about {need} validation cases would tell a real gain from noise"
    else:
        reason = f"still improving: {interval}, clearly more than the {margin:g} margin"
    return Plateau(
        decided=True,
        plateaued=plateaued,
        window=window,
        margin=margin,
        confidence=confidence,
        gain=gain,
        ci_low=low,
        ci_high=high,
        sd_gain=sd,
        n_cases=n_cases,
        start_index=indices[start],
        best_index=indices[end],
        plateau_point=point,
        cases_to_decide=to_decide,
        reason=reason,
    )


def estimate_gain(
    plateau: Plateau, best_score: float, target: float, extra_candidates: int
) -> GainEstimate:
    """Extrapolate the window's slope over a longer search, with its interval, capped.

    The slope is the window's gain (and its CI bounds) divided by the window. Linear
    extrapolation ignores the diminishing returns searches usually show, so the figure leans
    optimistic; it is capped at the room left above the current best score.

    Args:
        plateau: The plateau decision (its gain and interval).
        best_score: The current best score.
        target: The target score.
        extra_candidates: How many more candidates the estimate is for.

    Returns:
        The estimate.
    """
    room = max(0.0, 1.0 - best_score)
    slope = plateau.gain / plateau.window
    slope_low = plateau.ci_low / plateau.window
    slope_high = plateau.ci_high / plateau.window
    to_target = None
    if slope > 0 and best_score < target:
        to_target = math.ceil((target - best_score) / slope)
    return GainEstimate(
        per_candidate=slope,
        per_candidate_low=slope_low,
        per_candidate_high=slope_high,
        extra_candidates=extra_candidates,
        expected=min(room, max(0.0, slope * extra_candidates)),
        low=min(room, max(0.0, slope_low * extra_candidates)),
        high=min(room, max(0.0, slope_high * extra_candidates)),
        candidates_to_target=to_target,
    )
