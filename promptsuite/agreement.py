"""Agreement between a grader model and people: Cohen's kappa, its interval, the bias.

A judge (a grader model x a check type x a rubric) and a person each give pass or fail on
the same outputs. Their agreement is summed up in a 2 x 2 :class:`Confusion`; Cohen's
kappa discounts the agreement two raters would reach by chance from their pass rates alone
(Cohen 1960). Its 95% interval is a seeded percentile bootstrap over the labelled outputs
(:func:`kappa_interval`); how many labels would narrow it to a given width comes from the
large-sample variance of kappa (Fleiss, Cohen & Everitt 1969; :func:`labels_needed`); the
direction of the judge's errors, too lenient or too strict, from the exact McNemar test of
its two kinds of disagreement (:func:`bias_direction`). ``docs/statistics.md`` explains
each choice, and ``benchmarks/judge_calibration.py`` checks them on a synthetic judge.

Pure standard-library functions, deterministic for a given seed, like :mod:`promptsuite.stats`.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from promptsuite.stats import check_confidence, mcnemar_exact, quantile

Bias = Literal["lenient", "strict", "none"]
"""How a judge errs: passes what people fail, fails what people pass, or neither more."""

#: The lower bound of kappa's interval a trusted judge reaches unless told otherwise
#: (0.6 is where Landis & Koch's "substantial" agreement begins).
DEFAULT_KAPPA_THRESHOLD = 0.6
#: Fewer labels than this never make a judge trusted: a bootstrap over a handful of
#: outputs is too unreliable (eight outputs judged alike give the interval [1, 1]).
MIN_TRUSTED_LABELS = 20
#: The significance level at which :func:`bias_direction` names a bias.
BIAS_ALPHA = 0.05


@dataclass(frozen=True)
class Confusion:
    """A judge's verdicts against people's labels on the same outputs.

    Attributes:
        both_pass: The person and the judge said pass.
        judge_only: The judge passed an output the person failed (lenient).
        person_only: The judge failed an output the person passed (strict).
        both_fail: The person and the judge said fail.
    """

    both_pass: int = 0
    judge_only: int = 0
    person_only: int = 0
    both_fail: int = 0

    @classmethod
    def of(cls, person: Sequence[bool], judge: Sequence[bool]) -> Confusion:
        """Count paired verdicts (``True`` is pass).

        Raises:
            ValueError: The sequences differ in length.
        """
        if len(person) != len(judge):
            raise ValueError(f"got {len(person)} labels but {len(judge)} judge verdicts")
        cells = [0, 0, 0, 0]
        for said, judged in zip(person, judge, strict=True):
            cells[_cell(said, judged)] += 1
        return cls(*cells)

    @property
    def n(self) -> int:
        """Outputs both rated."""
        return self.both_pass + self.judge_only + self.person_only + self.both_fail

    @property
    def agreement(self) -> float:
        """The fraction of outputs both rated alike (0 for none)."""
        return (self.both_pass + self.both_fail) / self.n if self.n else 0.0

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa; None when it is undefined (no outputs, or both raters gave one
        verdict to every output, so chance explains all of their agreement)."""
        return _kappa(self.both_pass, self.judge_only, self.person_only, self.both_fail)

    def to_dict(self) -> dict[str, int]:
        """The four cells, named as the attributes."""
        return {
            "both_pass": self.both_pass,
            "judge_only": self.judge_only,
            "person_only": self.person_only,
            "both_fail": self.both_fail,
        }


@dataclass(frozen=True)
class KappaInterval:
    """Cohen's kappa with a percentile bootstrap interval.

    Attributes:
        kappa: Kappa on the labels as they are; None when undefined.
        ci_low: Lower bound of the interval; None when no resample defined kappa.
        ci_high: Upper bound of the interval; None when no resample defined kappa.
        resamples: Resamples drawn.
        defined: Of them, those where kappa was defined (the interval is theirs).
        confidence: Two-sided confidence level.
        seed: Seed of the resampling.
    """

    kappa: float | None
    ci_low: float | None
    ci_high: float | None
    resamples: int
    defined: int
    confidence: float
    seed: int


def _cell(person: bool, judge: bool) -> int:
    """The index of a pair among :class:`Confusion`'s cells."""
    return (0 if judge else 2) if person else (1 if judge else 3)


def _kappa(both_pass: int, judge_only: int, person_only: int, both_fail: int) -> float | None:
    n = both_pass + judge_only + person_only + both_fail
    if n == 0:
        return None
    person_pass = (both_pass + person_only) / n
    judge_pass = (both_pass + judge_only) / n
    chance = person_pass * judge_pass + (1 - person_pass) * (1 - judge_pass)
    if chance >= 1.0:
        return None
    observed = (both_pass + both_fail) / n
    return (observed - chance) / (1 - chance)


def kappa_interval(
    confusion: Confusion,
    *,
    resamples: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> KappaInterval:
    """Cohen's kappa and its percentile bootstrap interval over the labelled outputs.

    Each resample draws as many outputs as were labelled, with replacement. A resample in
    which both raters gave a single verdict to everything leaves kappa undefined and is
    set aside; the interval is over the others (``defined`` says how many).

    Args:
        confusion: The paired verdicts.
        resamples: Number of bootstrap resamples.
        confidence: Two-sided confidence level, strictly between 0 and 1.
        seed: Seed of the resampling: the same seed gives the same interval.

    Raises:
        ValueError: ``resamples`` or ``confidence`` is out of range.
    """
    check_confidence(confidence)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    n = confusion.n
    kappa = confusion.kappa
    if kappa is None:
        return KappaInterval(None, None, None, resamples, 0, confidence, seed)
    cells = (confusion.both_pass, confusion.judge_only, confusion.person_only, confusion.both_fail)
    codes = [index for index, size in enumerate(cells) for _ in range(size)]
    draws = random.Random(seed).choices(codes, k=n * resamples)
    values = []
    for start in range(0, n * resamples, n):
        counts = [0, 0, 0, 0]
        for code in draws[start : start + n]:
            counts[code] += 1
        value = _kappa(*counts)
        if value is not None:
            values.append(value)
    values.sort()
    alpha = 1 - confidence
    low = quantile(values, alpha / 2) if values else None
    high = quantile(values, 1 - alpha / 2) if values else None
    return KappaInterval(kappa, low, high, resamples, len(values), confidence, seed)


def kappa_variance(confusion: Confusion) -> float | None:
    """The large-sample variance of kappa per labelled output (multiply by 1/n for the
    variance of the estimate), by Fleiss, Cohen & Everitt (1969); None when kappa is
    undefined."""
    kappa = confusion.kappa
    n = confusion.n
    if kappa is None:
        return None
    # q[i][j]: the share of outputs the person rated i and the judge j (0 pass, 1 fail).
    q = [
        [confusion.both_pass / n, confusion.person_only / n],
        [confusion.judge_only / n, confusion.both_fail / n],
    ]
    rows = [q[0][0] + q[0][1], q[1][0] + q[1][1]]  # the person's pass and fail rates
    cols = [q[0][0] + q[1][0], q[0][1] + q[1][1]]  # the judge's
    chance = rows[0] * cols[0] + rows[1] * cols[1]
    diagonal = sum(q[i][i] * (1 - (rows[i] + cols[i]) * (1 - kappa)) ** 2 for i in (0, 1))
    off = (1 - kappa) ** 2 * sum(
        q[i][j] * (cols[i] + rows[j]) ** 2 for i in (0, 1) for j in (0, 1) if i != j
    )
    correction = (kappa - chance * (1 - kappa)) ** 2
    return max(0.0, diagonal + off - correction) / (1 - chance) ** 2


def labels_needed(confusion: Confusion, width: float, confidence: float = 0.95) -> int | None:
    """How many labelled outputs would make kappa's interval ``width`` wide, if the judge
    and the people kept agreeing as they do in ``confusion``.

    ``n = (2 z)^2 v / width^2``, with ``v`` the per-output variance of
    :func:`kappa_variance`. None when it cannot be estimated: kappa is undefined, or the
    raters never disagreed (the variance is then 0 whatever the truth is).

    Raises:
        ValueError: ``width`` is not positive, or ``confidence`` is out of range.
    """
    check_confidence(confidence)
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    variance = kappa_variance(confusion)
    if variance is None or variance == 0:
        return None
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    return max(1, math.ceil((2 * z) ** 2 * variance / width**2))


def bias_direction(confusion: Confusion, alpha: float = BIAS_ALPHA) -> tuple[Bias, float]:
    """Which way the judge errs, and the exact McNemar p-value behind it.

    ``lenient`` when it passes outputs people failed significantly more often than it
    fails outputs people passed, ``strict`` the other way round, ``none`` when the two
    kinds of disagreement could be chance (p >= ``alpha``).
    """
    p_value = mcnemar_exact(confusion.judge_only, confusion.person_only)
    if p_value >= alpha:
        return "none", p_value
    return ("lenient" if confusion.judge_only > confusion.person_only else "strict"), p_value
