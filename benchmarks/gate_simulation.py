"""The gate's calibration by simulation: false alarms and detections of a seeded noise model.

Pure statistics, no pytest and no model: each trial draws a suite of cases with known pass
probabilities, samples two runs of it and asks :func:`promptsuite.gate.compare_paired` for
a decision. ``docs/statistics.md`` quotes the table this prints; the end-to-end calibration
through real pytest runs is ``benchmarks/gate_calibration.py``.

Usage::

    python benchmarks/gate_simulation.py [--repeats 1 3 5]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass

from promptsuite.gate import GateDecision, compare_paired
from promptsuite.stats import CaseSummary, reduce_repeats


@dataclass(frozen=True)
class CalibrationResult:
    """How often the gate says ``fail`` on simulated runs with a known truth.

    Attributes:
        trials: Simulated comparisons of each kind.
        n_cases: Cases per suite.
        repeats: Repeats per case (reduced with ``mean``).
        drop: Pass-probability drop of every case in the A/B comparison.
        false_alarm_rate: Share of A/A comparisons (no change) that failed.
        detection_rate: Share of A/B comparisons (real drop) that failed.
        aa_inconclusive_rate: Share of A/A comparisons that were inconclusive.
        ab_inconclusive_rate: Share of A/B comparisons that were inconclusive.
    """

    trials: int
    n_cases: int
    repeats: int
    drop: float
    false_alarm_rate: float
    detection_rate: float
    aa_inconclusive_rate: float
    ab_inconclusive_rate: float


def simulate_calibration(
    *,
    trials: int = 200,
    n_cases: int = 50,
    repeats: int = 5,
    drop: float = 0.25,
    margin: float = 0.05,
    resamples: int = 1_000,
    seed: int = 0,
) -> CalibrationResult:
    """Measure the gate's false-alarm and detection rates with a scripted noise model.

    Each trial draws a suite: every case gets a pass probability ``p_i ~ Uniform(0, 1)``,
    fixed for that suite. A run samples each repeat as pass (score 1) with probability
    ``p_i``, else fail (score 0), and reduces the repeats with ``mean``. The A/A comparison
    pits two independent runs of the same suite; the A/B comparison lowers every ``p_i`` by
    ``drop`` (floored at 0) for the current run.

    Args:
        trials: Simulated suites.
        n_cases: Cases per suite.
        repeats: Repeats per case.
        drop: Pass-probability drop in the A/B comparison.
        margin: The gate's margin.
        resamples: Bootstrap resamples per comparison.
        seed: Seed of the whole simulation.

    Returns:
        The measured rates.
    """
    rng = random.Random(seed)

    def run(probabilities: Sequence[float]) -> list[CaseSummary]:
        summaries = []
        for p in probabilities:
            passes = [rng.random() < p for _ in range(repeats)]
            summaries.append(reduce_repeats(passes, [float(x) for x in passes], "mean"))
        return summaries

    def gate(base: list[CaseSummary], cur: list[CaseSummary], trial: int) -> GateDecision:
        return compare_paired(
            [s.score for s in base],
            [s.score for s in cur],
            [s.passed for s in base],
            [s.passed for s in cur],
            margin=margin,
            resamples=resamples,
            seed=trial,
        ).decision

    aa: list[GateDecision] = []
    ab: list[GateDecision] = []
    for trial in range(trials):
        probabilities = [rng.random() for _ in range(n_cases)]
        dropped = [max(0.0, p - drop) for p in probabilities]
        baseline = run(probabilities)
        aa.append(gate(baseline, run(probabilities), trial))
        ab.append(gate(baseline, run(dropped), trial))
    return CalibrationResult(
        trials=trials,
        n_cases=n_cases,
        repeats=repeats,
        drop=drop,
        false_alarm_rate=aa.count("fail") / trials,
        detection_rate=ab.count("fail") / trials,
        aa_inconclusive_rate=aa.count("inconclusive") / trials,
        ab_inconclusive_rate=ab.count("inconclusive") / trials,
    )


def calibration_table(repeat_counts: Sequence[int] = (1, 3, 5)) -> str:
    """The calibration figures quoted in ``docs/statistics.md``, as a text table.

    Args:
        repeat_counts: Repeats per case to simulate, one row each.

    Returns:
        One header line and one line per repeat count.
    """
    lines = ["trials  cases  repeats  drop  false-alarm  detection  A/A inconcl.  A/B inconcl."]
    for repeats in repeat_counts:
        result = simulate_calibration(repeats=repeats)
        lines.append(
            f"{result.trials:6d}  {result.n_cases:5d}  {result.repeats:7d}  {result.drop:4.2f}"
            f"  {result.false_alarm_rate:11.1%}  {result.detection_rate:9.1%}"
            f"  {result.aa_inconclusive_rate:12.1%}  {result.ab_inconclusive_rate:12.1%}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 3, 5])
    print(calibration_table(parser.parse_args().repeats))


if __name__ == "__main__":
    main()
