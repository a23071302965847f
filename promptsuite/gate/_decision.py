"""The gate's decision: is the current run non-inferior to its baseline on the same cases?

Per-case scores of the two runs (repeats already reduced, :func:`promptsuite.stats.reduce_repeats`)
are compared as pairs: a paired bootstrap interval of the mean score change against a
tolerated drop, with the exact McNemar test of the pass/fail flips as supporting evidence.
The reasoning, and what each decision means, is written out in ``docs/statistics.md``; the
statistics themselves live in :mod:`promptsuite.stats`, which the optimizer shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from promptsuite.stats import (
    CASES_NEEDED_CAP,
    BootstrapResult,
    check_confidence,
    mcnemar_exact,
    paired_bootstrap,
    required_cases,
)

GateDecision = Literal["pass", "fail", "inconclusive"]
"""The gate's answer: non-inferior, regressed beyond the margin, or undecided."""
GateInconclusive = Literal["pass", "fail"]
"""What an inconclusive gate does: pass with a warning, or fail."""

#: The score drop the suite gate tolerates unless told otherwise.
DEFAULT_GATE_MARGIN = 0.05


@dataclass(frozen=True)
class GateVerdict:
    """The outcome of comparing a run with its baseline on the same cases.

    Attributes:
        decision: ``pass`` when the whole confidence interval of the mean score change lies
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
            alongside the decision, not part of it.
        margin: The tolerated drop in mean score.
        confidence: Two-sided confidence level of the interval.
        cases_needed: For ``inconclusive``, the estimated number of cases at which the
            interval would be narrow enough to decide (capped at ``CASES_NEEDED_CAP``);
            None for the other decisions and when it cannot be estimated.
        reason: One line a person can read in a CI log.
    """

    decision: GateDecision
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

    def to_dict(self) -> dict[str, Any]:
        """The results file's form: every field, the decision under its key ``verdict``."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {"verdict": data.pop("decision"), **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateVerdict:
        """Read :meth:`to_dict`'s form."""
        values = dict(data)
        return cls(decision=values.pop("verdict"), **values)


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

    The decision comes from a paired bootstrap CI of the mean per-case score change:

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
        seed: Seed of the bootstrap; fixed so a re-run gives the same decision.
        resamples: Number of bootstrap resamples.

    Returns:
        The decision with the figures behind it.

    Raises:
        ValueError: If the four sequences differ in length, a score is not finite, or a
            setting is out of range.
    """
    check_confidence(confidence)
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
            decision="inconclusive",
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
    decision: GateDecision
    cases_needed: int | None = None
    if boot.ci_low > -margin:
        decision = "pass"
    elif boot.ci_high < -margin:
        decision = "fail"
    else:
        decision = "inconclusive"
        half_width = abs(boot.mean_diff + margin)
        # The bootstrap CI and the normal approximation disagree slightly; since these
        # cases did not decide it, at least one more is needed whatever the formula says.
        cases_needed = max(boot.n_cases + 1, required_cases(boot.sd_diff, half_width, confidence))
    return GateVerdict(
        decision=decision,
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
        reason=_reason(decision, boot, margin, pass_to_fail, fail_to_pass, p_value, cases_needed),
    )


def _reason(
    decision: GateDecision,
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
    if decision == "pass":
        return f"pass: {interval} stays above the -{margin:g} margin; {flips}"
    if decision == "fail":
        return f"fail: regression, {interval} lies below the -{margin:g} margin; {flips}"
    need = f"{cases_needed}" if cases_needed != CASES_NEEDED_CAP else f"over {CASES_NEEDED_CAP}"
    return (
        f"inconclusive: {interval} straddles the -{margin:g} margin; "
        f"about {need} cases would decide it; {flips}"
    )
