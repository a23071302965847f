"""Statistics: repeats reduced to one verdict per case, and paired comparisons of two runs.

The gate compares the current run with the committed baseline on the same cases. Cases are
the unit of analysis: repeats of a case are reduced to one summary first
(:func:`reduce_repeats`), then the per-case scores of the two runs are compared as pairs
(:func:`compare_paired`). The reasoning, and what each verdict means, is written out in
``docs/statistics.md``; the approach follows Miller (2024), "Adding Error Bars to Evals: A
Statistical Approach to Language Model Evaluations" (arXiv:2411.00640).

Everything here is pure standard-library Python, deterministic for a given seed, and knows
nothing about pytest or models; the runner, the gate, the report and the optimizer all use
it. The gate's calibration simulation lives beside its benchmark
(``benchmarks/gate_simulation.py``).

At about 500 lines this module stays whole on purpose: reducers, intervals, the paired
tests and the bootstrap share one vocabulary (scores, pairs, seeds) and are read together
when a verdict is questioned; split by function they would import each other in a ring.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Verdict = Literal["pass", "fail", "inconclusive"]
"""The gate's answer: non-inferior, regressed beyond the margin, or undecided."""

Reducer = Literal["all-pass", "mean", "any-pass"]
"""How :func:`reduce_repeats` turns a case's repeats into one verdict and score."""
#: Every reducer name, the default first.
REDUCERS: tuple[Reducer, ...] = get_args(Reducer)
#: The score drop the suite gate tolerates unless told otherwise.
DEFAULT_GATE_MARGIN = 0.05

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


@dataclass(frozen=True)
class GateVerdict:
    """The outcome of comparing a run with its baseline on the same cases.

    Attributes:
        verdict: ``pass`` when the whole confidence interval of the mean score change lies
            above ``-margin`` (non-inferior); ``fail`` when it lies wholly below ``-margin``
            (a regression larger than the margin); ``inconclusive`` otherwise.
        mean_diff: Mean per-case score change, ``current - baseline``.
        ci_low: Lower bound of the bootstrap confidence interval of ``mean_diff``; with
            no cases, -1.0 (the interval then says nothing, like Wilson's (0, 1)).
        ci_high: Upper bound of the bootstrap confidence interval of ``mean_diff``; with
            no cases, 1.0.
        sd_diff: Sample standard deviation of the per-case score changes.
        n_cases: Number of paired cases.
        pass_to_fail: Cases that passed in the baseline and fail now.
        fail_to_pass: Cases that failed in the baseline and pass now.
        p_value_mcnemar: Two-sided exact McNemar p-value of the flips; evidence reported
            alongside the verdict, not part of it.
        margin: The tolerated drop in mean score.
        confidence: Two-sided confidence level of the interval.
        cases_needed: For ``inconclusive``, the estimated number of cases at which the
            interval would be narrow enough to decide (capped at ``CASES_NEEDED_CAP``);
            None for the other verdicts and when it cannot be estimated.
        reason: One line a person can read in a CI log.
    """

    verdict: Verdict
    mean_diff: float
    ci_low: float
    ci_high: float
    sd_diff: float
    n_cases: int
    pass_to_fail: int
    fail_to_pass: int
    p_value_mcnemar: float
    margin: float
    confidence: float
    cases_needed: int | None
    reason: str


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
    _check_confidence(confidence)
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
    _check_confidence(confidence)
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
        ci_low=_quantile(means, alpha / 2),
        ci_high=_quantile(means, 1 - alpha / 2),
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
    _check_confidence(confidence)
    if sd < 0:
        raise ValueError(f"sd must be non-negative, got {sd}")
    if sd == 0:
        return 1
    if half_width <= 0:
        return CASES_NEEDED_CAP
    estimate = (_z(confidence) * sd / half_width) ** 2
    return CASES_NEEDED_CAP if estimate >= CASES_NEEDED_CAP else max(1, math.ceil(estimate))


def compare_paired(
    baseline: Sequence[float],
    current: Sequence[float],
    baseline_pass: Sequence[bool],
    current_pass: Sequence[bool],
    *,
    margin: float = DEFAULT_GATE_MARGIN,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = 10_000,
) -> GateVerdict:
    """Decide whether the current run regressed against the baseline on the same cases.

    The verdict comes from a paired bootstrap CI of the mean per-case score change:

    * ``pass``: the CI's lower bound is above ``-margin``; any drop is within the margin
      (non-inferiority, a one-sided test at level ``(1 - confidence) / 2``).
    * ``fail``: the CI's upper bound is below ``-margin``; the score dropped by more than
      the margin.
    * ``inconclusive``: the CI contains ``-margin``; ``cases_needed`` estimates how many
      cases would decide it, from the observed spread of the differences.

    The exact McNemar p-value of the pass/fail flips is reported as supporting evidence.

    Args:
        baseline: Per-case scores of the baseline (repeats already reduced).
        current: Per-case scores of the current run, same cases in the same order.
        baseline_pass: Per-case pass/fail of the baseline.
        current_pass: Per-case pass/fail of the current run.
        margin: The tolerated drop in mean score; must be positive.
        confidence: Two-sided confidence level of the CI.
        seed: Seed of the bootstrap; fixed so a re-run gives the same verdict.
        resamples: Number of bootstrap resamples.

    Returns:
        The verdict with the figures behind it.

    Raises:
        ValueError: If the four sequences differ in length, a score is not finite, or a
            setting is out of range.
    """
    _check_confidence(confidence)
    if not margin > 0:
        raise ValueError(
            f"margin must be positive, got {margin}; use a small margin such as 0.01 "
            "to demand near-equality"
        )
    lengths = {len(baseline), len(current), len(baseline_pass), len(current_pass)}
    if len(lengths) > 1:
        raise ValueError(
            "baseline and current must cover the same cases: got "
            f"{len(baseline)} baseline scores, {len(current)} current scores, "
            f"{len(baseline_pass)} baseline pass flags, {len(current_pass)} current pass flags"
        )
    pass_to_fail = sum(
        1 for was, now in zip(baseline_pass, current_pass, strict=True) if was and not now
    )
    fail_to_pass = sum(
        1 for was, now in zip(baseline_pass, current_pass, strict=True) if now and not was
    )
    p_value = mcnemar_exact(pass_to_fail, fail_to_pass)
    if not baseline:
        return GateVerdict(
            verdict="inconclusive",
            mean_diff=0.0,
            ci_low=-1.0,
            ci_high=1.0,
            sd_diff=0.0,
            n_cases=0,
            pass_to_fail=0,
            fail_to_pass=0,
            p_value_mcnemar=1.0,
            margin=margin,
            confidence=confidence,
            cases_needed=None,
            reason="inconclusive: no cases to compare with the baseline",
        )
    boot = paired_bootstrap(
        baseline, current, resamples=resamples, confidence=confidence, seed=seed
    )
    verdict: Verdict
    cases_needed: int | None = None
    if boot.ci_low > -margin:
        verdict = "pass"
    elif boot.ci_high < -margin:
        verdict = "fail"
    else:
        verdict = "inconclusive"
        half_width = abs(boot.mean_diff + margin)
        # The bootstrap CI and the normal approximation disagree slightly; since these
        # cases did not decide it, at least one more is needed whatever the formula says.
        cases_needed = max(boot.n_cases + 1, required_cases(boot.sd_diff, half_width, confidence))
    return GateVerdict(
        verdict=verdict,
        mean_diff=boot.mean_diff,
        ci_low=boot.ci_low,
        ci_high=boot.ci_high,
        sd_diff=boot.sd_diff,
        n_cases=boot.n_cases,
        pass_to_fail=pass_to_fail,
        fail_to_pass=fail_to_pass,
        p_value_mcnemar=p_value,
        margin=margin,
        confidence=confidence,
        cases_needed=cases_needed,
        reason=_reason(verdict, boot, margin, pass_to_fail, fail_to_pass, p_value, cases_needed),
    )


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


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values, interpolating linearly between neighbours."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


def _z(confidence: float) -> float:
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")


def _reason(
    verdict: Verdict,
    boot: BootstrapResult,
    margin: float,
    pass_to_fail: int,
    fail_to_pass: int,
    p_value: float,
    cases_needed: int | None,
) -> str:
    interval = (
        f"mean score change {boot.mean_diff:+.3f} over {boot.n_cases} cases, "
        f"{boot.confidence:.0%} CI [{boot.ci_low:+.3f}, {boot.ci_high:+.3f}]"
    )
    flips = f"flips: {pass_to_fail} pass->fail, {fail_to_pass} fail->pass (McNemar p={p_value:.3g})"
    if verdict == "pass":
        return f"pass: {interval} stays above the -{margin:g} margin; {flips}"
    if verdict == "fail":
        return f"fail: regression, {interval} lies below the -{margin:g} margin; {flips}"
    need = f"{cases_needed}" if cases_needed != CASES_NEEDED_CAP else f"over {CASES_NEEDED_CAP}"
    return (
        f"inconclusive: {interval} straddles the -{margin:g} margin; "
        f"about {need} cases would decide it; {flips}"
    )
