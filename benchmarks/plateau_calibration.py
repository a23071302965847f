"""How often the plateau rule is right, on seeded synthetic search trajectories.

Each trial draws a suite of validation cases and a search of ``--candidates`` prompt
candidates, then asks :func:`promptsuite.optimize.analysis.detect_plateau` (the rule
``analyze`` uses, with its default window and margin) whether the run has plateaued.

The noise model, chosen to look like temperature-0 outputs of different prompts:

* case ``i`` has a difficulty ``a_i ~ Normal(0, 1.5)``, fixed for the suite;
* candidate ``k`` has a quality ``q_k`` (the scenario) plus its own jitter ``Normal(0, 0.1)``;
* case ``i`` passes under candidate ``k`` iff ``q_k - a_i + 0.5 * e_ik > 0`` with
  ``e_ik ~ Normal(0, 1)``, the prompt-case interaction; one repeat, score 1 or 0.

Scenarios for the quality curve:

* ``plateau``: rises linearly from 0 to 1.0 over the first 30% of the candidates, then flat;
* ``noise``: flat at 0 (no candidate is really better than another);
* ``improving``: rises by 0.10 per candidate, to the end;
* ``slow``: rises by 0.03 per candidate, to the end (a gain of ~0.01 to 0.02 per window).

Run ``python benchmarks/plateau_calibration.py`` (about three minutes on two cores).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from promptsuite.optimize.analysis import (
    DEFAULT_MARGIN,
    PLATEAU_CONFIDENCE,
    default_window,
    detect_plateau,
)

Curve = Callable[[int, int], float]

SCENARIOS: dict[str, Curve] = {
    "plateau": lambda k, n: min(1.0, k / max(1, round(0.3 * n))),
    "noise": lambda k, n: 0.0,
    "improving": lambda k, n: 0.10 * k,
    "slow": lambda k, n: 0.03 * k,
}


def trial(
    curve: Curve, n_cases: int, n_candidates: int, seed: int, resamples: int, confidence: float
) -> bool:
    """One synthetic search; True when the rule calls it a plateau."""
    rng = random.Random(seed)
    difficulty = [rng.gauss(0.0, 1.5) for _ in range(n_cases)]
    scores: list[float] = []
    per_case: list[dict[str, float]] = []
    for k in range(n_candidates):
        quality = curve(k, n_candidates) + rng.gauss(0.0, 0.1)
        passed = {
            f"c{i}": 1.0 if quality - a + 0.5 * rng.gauss(0.0, 1.0) > 0 else 0.0
            for i, a in enumerate(difficulty)
        }
        per_case.append(passed)
        scores.append(sum(passed.values()) / n_cases)
    plateau = detect_plateau(
        list(range(n_candidates)),
        scores,
        per_case,
        window=default_window(n_candidates, n_candidates),
        margin=DEFAULT_MARGIN,
        confidence=confidence,
        seed=seed,
        resamples=resamples,
    )
    return plateau.plateaued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--cases", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--confidence", type=float, default=PLATEAU_CONFIDENCE)
    args = parser.parse_args()
    window = default_window(args.candidates, args.candidates)
    print(
        f"{args.trials} trials per cell, {args.candidates} candidates, window {window}, "
        f"margin {DEFAULT_MARGIN}, {args.confidence:.0%} CI, {args.resamples} bootstrap resamples"
    )
    print("cases  " + "  ".join(f"{name:>16}" for name in SCENARIOS))
    started = time.perf_counter()
    for n_cases in args.cases:
        cells = []
        for offset, curve in enumerate(SCENARIOS.values()):
            calls = sum(
                trial(
                    curve,
                    n_cases,
                    args.candidates,
                    10_000 * offset + t,
                    args.resamples,
                    args.confidence,
                )
                for t in range(args.trials)
            )
            cells.append(f"{calls / args.trials:>6.1%} plateau")
        print(f"{n_cases:5d}  " + "  ".join(f"{cell:>16}" for cell in cells))
    print(f"({time.perf_counter() - started:.0f} s)")
    print(
        "missed plateau = 1 - plateau rate in 'plateau' and 'noise'; "
        "false plateau = plateau rate in 'improving'"
    )


if __name__ == "__main__":
    main()
