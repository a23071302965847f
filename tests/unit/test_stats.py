"""The statistics against published values and independent formulas."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from promptsuite.stats import (
    CASES_NEEDED_CAP,
    check_confidence,
    mcnemar_exact,
    paired_bootstrap,
    reduce_repeats,
    required_cases,
    wilson_interval,
)

Z95 = 1.959963984540054


def wilson_by_quadratic(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's bounds as the roots of (p_hat - p)^2 = z^2 p (1 - p) / n."""
    p_hat = successes / trials
    a = 1 + z * z / trials
    b = -(2 * p_hat + z * z / trials)
    c = p_hat * p_hat
    root = math.sqrt(b * b - 4 * a * c)
    return ((-b - root) / (2 * a), (-b + root) / (2 * a))


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat. Med.
# 17:857-872, Table II, method 3 (score interval without continuity correction); and the
# widely tabulated 95% Wilson intervals for n = 10.
PUBLISHED_WILSON_95 = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (0, 10, 0.0, 0.2775),
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
]


@pytest.mark.parametrize(("successes", "trials", "low", "high"), PUBLISHED_WILSON_95)
def test_wilson_matches_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (5, 10), (10, 10), (81, 263), (3, 7)])
def test_wilson_matches_the_quadratic_roots(successes: int, trials: int) -> None:
    assert wilson_interval(successes, trials) == pytest.approx(
        wilson_by_quadratic(successes, trials), abs=1e-12
    )


def test_wilson_bounds_are_exact_at_the_extremes_and_widen_with_confidence() -> None:
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low95, high95 = wilson_interval(81, 263, 0.95)
    low99, high99 = wilson_interval(81, 263, 0.99)
    assert low99 < low95 and high99 > high95


@pytest.mark.parametrize(
    ("successes", "trials", "confidence"), [(-1, 5, 0.95), (6, 5, 0.95), (1, 5, 1.0), (1, 5, 0)]
)
def test_wilson_rejects_impossible_input(successes: int, trials: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, trials, confidence)


def test_reduce_mean_passes_at_half_and_flags_disagreement() -> None:
    summary = reduce_repeats([True, False, True, False], [1.0, 0.2, 0.8, 0.0], "mean")
    assert (summary.n, summary.passes, summary.pass_rate) == (4, 2, 0.5)
    assert summary.mean_score == pytest.approx(0.5)
    assert summary.score == summary.mean_score
    assert summary.passed and summary.flaky
    assert summary.interval == wilson_interval(2, 4)
    assert not reduce_repeats([True, False, False], [1.0, 0.0, 0.0], "mean").passed


def test_reduce_all_pass_and_any_pass() -> None:
    passes, scores = [True, True, False], [0.9, 0.7, 0.1]
    strict = reduce_repeats(passes, scores, "all-pass")
    lenient = reduce_repeats(passes, scores, "any-pass")
    assert not strict.passed and strict.score == 0.1
    assert lenient.passed and lenient.score == 0.9
    assert strict.mean_score == lenient.mean_score == pytest.approx(1.7 / 3)
    steady = reduce_repeats([True] * 3, [1.0] * 3, "all-pass")
    assert steady.passed and not steady.flaky


@pytest.mark.parametrize(
    ("passes", "scores", "reducer", "message"),
    [
        ([True], [1.0, 0.0], "mean", "1 pass flags but 2 scores"),
        ([], [], "mean", "at least one repeat"),
        ([True], [1.0], "median", "unknown reducer 'median'"),
    ],
)
def test_reduce_rejects_bad_input(
    passes: list[bool], scores: list[float], reducer: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        reduce_repeats(passes, scores, reducer)


def test_mcnemar_known_values() -> None:
    # 2 * (C(10,0) + C(10,1)) / 2^10 = 22 / 1024
    assert mcnemar_exact(1, 9) == 0.021484375
    assert mcnemar_exact(9, 1) == 0.021484375
    assert mcnemar_exact(0, 10) == 2 / 1024
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 1) == 1.0


def test_mcnemar_matches_a_binomial_sum_and_the_normal_approximation() -> None:
    b, c = 3, 12
    n = b + c
    pmf = [math.comb(n, k) * 0.5**n for k in range(n + 1)]
    assert mcnemar_exact(b, c) == pytest.approx(2 * sum(pmf[: b + 1]), rel=1e-12)
    # Large counts: no overflow, and close to the continuity-corrected normal test.
    b, c = 600, 700
    z = (abs(b - c) - 1) / math.sqrt(b + c)
    approx = 2 * (1 - statistics.NormalDist().cdf(z))
    assert mcnemar_exact(b, c) == pytest.approx(approx, rel=0.05)


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        mcnemar_exact(-1, 3)


def noisy_pair(n: int, shift: float, noise: float, seed: int) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    baseline = [rng.random() for _ in range(n)]
    return baseline, [x + shift + rng.gauss(0, noise) for x in baseline]


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    baseline, current = noisy_pair(60, 0.0, 0.2, seed=1)
    first = paired_bootstrap(baseline, current, resamples=2000, seed=7)
    assert first == paired_bootstrap(baseline, current, resamples=2000, seed=7)
    assert first != paired_bootstrap(baseline, current, resamples=2000, seed=8)


def test_bootstrap_ci_covers_the_true_shift_and_agrees_with_the_normal_interval() -> None:
    baseline, current = noisy_pair(200, 0.1, 0.05, seed=2)
    result = paired_bootstrap(baseline, current)
    assert result.ci_low < 0.1 < result.ci_high
    assert result.ci_low < result.mean_diff < result.ci_high
    diffs = [c - b for b, c in zip(baseline, current, strict=True)]
    assert result.mean_diff == pytest.approx(statistics.fmean(diffs))
    assert result.sd_diff == pytest.approx(statistics.stdev(diffs))
    normal_half_width = Z95 * result.sd_diff / math.sqrt(200)
    assert (result.ci_high - result.ci_low) / 2 == pytest.approx(normal_half_width, rel=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"resamples": 0}, "resamples"), ({"confidence": 1.5}, "confidence")],
)
def test_bootstrap_rejects_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap([0.0], [1.0], **kwargs)  # type: ignore[arg-type]


def test_bootstrap_rejects_non_finite_scores() -> None:
    with pytest.raises(ValueError, match="case 1"):
        paired_bootstrap([0.0, math.nan], [1.0, 1.0])


def test_required_cases() -> None:
    assert required_cases(0.5, 0.1) == math.ceil((Z95 * 5) ** 2) == 97
    assert required_cases(0.0, 0.1) == 1
    assert required_cases(0.5, 0.0) == CASES_NEEDED_CAP
    assert required_cases(10.0, 1e-6) == CASES_NEEDED_CAP


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 1.5])
def test_a_confidence_outside_the_open_unit_interval_is_refused(confidence: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        check_confidence(confidence)
