"""Statistics: repeats reduced to one verdict per case, and paired comparisons of two runs.

Cases are the unit of analysis: repeats of a case are reduced to one summary first
(:func:`reduce_repeats`, with a Wilson interval of its pass rate), then the per-case scores
of two runs are compared as pairs: a paired bootstrap of the mean difference
(:func:`paired_bootstrap`), the exact McNemar test of the pass/fail flips
(:func:`mcnemar_exact`) and the cases a decision would need (:func:`required_cases`). The
approach follows Miller (2024), "Adding Error Bars to Evals: A Statistical Approach to
Language Model Evaluations" (arXiv:2411.00640), and is written out in
``docs/statistics.md``.

Everything here is pure standard-library Python, deterministic for a given seed, and knows
nothing about pytest or models; the runner, the report, the gate
(:mod:`promptsuite.gate`, which decides a suite's pass, fail or inconclusive from these) and
the optimizer all use it.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Reducer = Literal["all-pass", "mean", "any-pass"]
"""How :func:`reduce_repeats` turns a case's repeats into one verdict and score."""
#: Every reducer name, the default first.
REDUCERS: tuple[Reducer, ...] = get_args(Reducer)

#: Beyond this many cases, an estimate of ``cases_needed`` is reported as this cap: the
#: observed difference sits so close to the margin that more data will not settle it.
CASES_NEEDED_CAP = 100_000

_DRAWS_PER_BLOCK = 65_536


@dataclass(frozen=True)
class CaseSummary:
    """One case's repeats reduced to a single result.

    Attributes:
        n: Number of repeats.
        passes: Repeats that passed.
        pass_rate: ``passes / n``.
        interval: Wilson score interval of the pass rate (95%).
        mean_score: Mean score over the repeats.
        score: The case's score under the reducer; this is what the gate compares. The mean
            score for ``mean``, the lowest for ``all-pass``, the highest for ``any-pass``.
        flaky: True when the repeats disagree (some passed, some failed).
        passed: The case's verdict under the reducer.
        reducer: The reducer that produced ``score`` and ``passed``.
    """

    n: int
    passes: int
    pass_rate: float
    interval: tuple[float, float]
    mean_score: float
    score: float
    flaky: bool
    passed: bool
    reducer: str


@dataclass(frozen=True)
class BootstrapResult:
    """A paired bootstrap of the mean per-case difference ``current - baseline``.

    Attributes:
        mean_diff: Observed mean of the per-case differences.
        ci_low: Lower bound of the percentile confidence interval.
        ci_high: Upper bound of the percentile confidence interval.
        sd_diff: Sample standard deviation of the per-case differences (0 for one case).
        n_cases: Number of paired cases.
        resamples: Number of bootstrap resamples.
        confidence: Two-sided confidence level of the interval.
        seed: Seed of the resampling; the same seed gives the same interval.
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    sd_diff: float
    n_cases: int
    resamples: int
    confidence: float
    seed: int


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Unlike the textbook ``p ± z·se`` interval, it stays inside [0, 1] and keeps its width
    at 0 or ``trials`` successes, which is where small repeat counts usually land.

    Args:
        successes: Number of successes, ``0 <= successes <= trials``.
        trials: Number of trials; 0 gives the uninformative interval (0.0, 1.0).
        confidence: Two-sided confidence level, strictly between 0 and 1.

    Returns:
        The (low, high) bounds.

    Raises:
        ValueError: If the counts or the confidence are out of range.
    """
    check_confidence(confidence)
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = successes / trials
    z2_n = z * z / trials
    centre = (p + z2_n / 2) / (1 + z2_n)
    half = z / (1 + z2_n) * math.sqrt(p * (1 - p) / trials + z2_n / (4 * trials))
    # The exact bounds at 0 and `trials` successes are 0 and 1; rounding would blur them.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


def reduce_repeats(
    passes: Sequence[bool],
    scores: Sequence[float],
    reducer: str,
    min_pass_rate: float | None = None,
) -> CaseSummary:
    """Reduce the repeats of one case to a single summary.

    Reducers:
        ``mean``: the case passes when at least half its repeats pass; its score is the
        mean score.
        ``all-pass``: the case passes only when every repeat passes; its score is the
        lowest score.
        ``any-pass``: the case passes when any repeat passes (pass@k with k = repeats);
        its score is the highest score.

    Args:
        passes: Pass/fail of each repeat.
        scores: Score of each repeat, in the same order.
        reducer: One of the :data:`Reducer` names.
        min_pass_rate: When set, the case passes when at least this fraction of its
            repeats pass, whatever the reducer (its score still comes from the reducer).

    Returns:
        The case summary, with a 95% Wilson interval of the pass rate.

    Raises:
        ValueError: If there are no repeats, the lengths differ or the reducer is unknown.
    """
    if reducer not in REDUCERS:
        raise ValueError(f"unknown reducer {reducer!r}; choose one of {', '.join(REDUCERS)}")
    if len(passes) != len(scores):
        raise ValueError(f"got {len(passes)} pass flags but {len(scores)} scores for one case")
    if not passes:
        raise ValueError("a case needs at least one repeat to summarise")
    n = len(passes)
    n_passed = sum(1 for passed in passes if passed)
    mean_score = math.fsum(scores) / n
    if reducer == "mean":
        score, passed = mean_score, n_passed * 2 >= n
    elif reducer == "all-pass":
        score, passed = min(scores), n_passed == n
    else:
        score, passed = max(scores), n_passed > 0
    if min_pass_rate is not None:
        passed = n_passed >= min_pass_rate * n - 1e-9
    return CaseSummary(
        n=n,
        passes=n_passed,
        pass_rate=n_passed / n,
        interval=wilson_interval(n_passed, n),
        mean_score=mean_score,
        score=score,
        flaky=0 < n_passed < n,
        passed=passed,
        reducer=reducer,
    )


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test of pass/fail flips between two paired runs.

    Under "no change", each discordant case is equally likely to flip either way, so
    ``b ~ Binomial(b + c, 1/2)``. The p-value is ``min(1, 2 * P(X <= min(b, c)))``.

    Args:
        b: Cases that passed in the baseline and fail now.
        c: Cases that failed in the baseline and pass now.

    Returns:
        The p-value; 1.0 when no case flipped.

    Raises:
        ValueError: If a count is negative.
    """
    if b < 0 or c < 0:
        raise ValueError(f"flip counts must be non-negative, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    # Exact integer arithmetic: one division at the end, no overflow for large n.
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / (1 << n))


def paired_bootstrap(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap CI of the mean per-case difference ``current - baseline``.

    Cases are resampled with replacement as pairs, so each case's difficulty cancels out of
    its own difference.

    Args:
        baseline: Per-case scores of the baseline run.
        current: Per-case scores of the current run, same cases in the same order.
        resamples: Number of bootstrap resamples.
        confidence: Two-sided confidence level, strictly between 0 and 1.
        seed: Seed of the resampling.

    Returns:
        The observed mean difference and its confidence interval.

    Raises:
        ValueError: If the runs are empty or differ in length, a score is not finite, or
            ``resamples`` or ``confidence`` is out of range.
    """
    check_confidence(confidence)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    diffs = _differences(baseline, current)
    if not diffs:
        raise ValueError("cannot bootstrap zero cases")
    n = len(diffs)
    choices = random.Random(seed).choices
    # Drawing many resamples per `choices` call saves the per-call overhead (a third of the
    # time on small suites); blocks keep memory flat on large ones. The random stream, and so
    # the result, is the same as one call per resample.
    per_block = max(1, _DRAWS_PER_BLOCK // n)
    means: list[float] = []
    for start in range(0, resamples, per_block):
        count = min(per_block, resamples - start)
        draws = iter(choices(diffs, k=n * count))
        means.extend(sum(itertools.islice(draws, n)) / n for _ in range(count))
    means.sort()
    alpha = 1 - confidence
    return BootstrapResult(
        mean_diff=math.fsum(diffs) / n,
        ci_low=quantile(means, alpha / 2),
        ci_high=quantile(means, 1 - alpha / 2),
        sd_diff=statistics.stdev(diffs) if n > 1 else 0.0,
        n_cases=n,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )


def required_cases(sd: float, half_width: float, confidence: float = 0.95) -> int:
    """Cases needed for a normal-approximation CI of a mean to reach a given half-width.

    ``n = ceil((z * sd / half_width) ** 2)``, capped at :data:`CASES_NEEDED_CAP`.

    Args:
        sd: Standard deviation of the per-case differences.
        half_width: The wanted half-width of the confidence interval.
        confidence: Two-sided confidence level, strictly between 0 and 1.

    Returns:
        The estimated number of cases (at least 1).

    Raises:
        ValueError: If ``sd`` is negative.
    """
    check_confidence(confidence)
    if sd < 0:
        raise ValueError(f"sd must be non-negative, got {sd}")
    if sd == 0:
        return 1
    if half_width <= 0:
        return CASES_NEEDED_CAP
    estimate = (_z(confidence) * sd / half_width) ** 2
    return CASES_NEEDED_CAP if estimate >= CASES_NEEDED_CAP else max(1, math.ceil(estimate))


def _differences(baseline: Sequence[float], current: Sequence[float]) -> list[float]:
    if len(baseline) != len(current):
        raise ValueError(
            f"baseline has {len(baseline)} cases but current has {len(current)}; "
            "a paired comparison needs the same cases in the same order"
        )
    diffs = [now - was for was, now in zip(baseline, current, strict=True)]
    for index, diff in enumerate(diffs):
        if not math.isfinite(diff):
            raise ValueError(f"case {index}: scores must be finite numbers")
    return diffs


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values, interpolating linearly between neighbours."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


def _z(confidence: float) -> float:
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def check_confidence(confidence: float) -> None:
    """Raise a ValueError unless ``confidence`` lies strictly between 0 and 1."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
