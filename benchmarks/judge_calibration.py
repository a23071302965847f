"""Does calibration recover a judge we know? A synthetic judge of known accuracy and bias.

People pass half of the outputs. The judge passes 95% of what people pass and only 70% of
what they fail is failed by it (it passes the other 30%): too lenient, with a true Cohen's
kappa computed from those rates. The script

1. runs the whole path once (case results with a model-graded check, a labels file,
   :func:`promptsuite.labels.calibrate`) on ``--labels`` outputs and prints the judge's
   kappa, its 95% interval and the bias it names, against the truth;
2. repeats the draw ``--trials`` times and prints how often the interval held the true
   kappa (a 95% interval should, about 95% of the time) and how often the bias was named;
3. takes the labels-needed figure for a ``--width`` wide interval that step 1 printed
   (and the one the true rates give), draws ``--trials`` samples of that many labels, and
   prints the median width of their intervals: it should be close to ``--width``.

It exits 1 when the interval's coverage is under 90%, the bias is named in under 80% of
the trials, or a median width misses the target by more than 15%.

    python benchmarks/judge_calibration.py --labels 200 --trials 200 --width 0.2
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from promptsuite.agreement import Confusion, bias_direction, kappa_interval, labels_needed
from promptsuite.gate import digest
from promptsuite.labels import Label, calibrate, labels_path, read_labels, save_label
from promptsuite.results import CaseResult, CheckResult, RepeatResult

PASS_RATE = 0.5
SENSITIVITY = 0.95  # P(judge passes | people pass)
SPECIFICITY = 0.70  # P(judge fails | people fail)
RUBRIC = "The reply answers the question and offers a next step."


def cell_probabilities() -> list[float]:
    """Probabilities of (both pass, judge only, person only, both fail)."""
    return [
        PASS_RATE * SENSITIVITY,
        (1 - PASS_RATE) * (1 - SPECIFICITY),
        PASS_RATE * (1 - SENSITIVITY),
        (1 - PASS_RATE) * SPECIFICITY,
    ]


def true_kappa() -> float:
    """Kappa of the judge on the whole population of outputs."""
    both_pass, judge_only, person_only, both_fail = cell_probabilities()
    person, judge = both_pass + person_only, both_pass + judge_only
    chance = person * judge + (1 - person) * (1 - judge)
    return (both_pass + both_fail - chance) / (1 - chance)


def draw(n: int, rng: random.Random) -> Confusion:
    cells = [0, 0, 0, 0]
    for code in rng.choices(range(4), weights=cell_probabilities(), k=n):
        cells[code] += 1
    return Confusion(*cells)


def whole_path(n: int, seed: int, width: float) -> int:
    """A run's results and a labels file, as ``promptsuite calibrate`` reads them."""
    rng = random.Random(seed)
    truth = [
        (code in (0, 2), code in (0, 1))
        for code in rng.choices(range(4), cell_probabilities(), k=n)
    ]
    cases = []
    with tempfile.TemporaryDirectory() as folder:
        path = labels_path("suites/s.yaml", Path(folder))
        for i, (person, judge) in enumerate(truth):
            output = f"reply {i}"
            check = CheckResult(
                "judge", judge, float(judge), "r", 1.0, "helpful", grader="grader", rubric=RUBRIC
            )
            repeat = RepeatResult(0, output, None, [check], judge, float(judge))
            cases.append(
                CaseResult(
                    f"suites/s.yaml::c{i}[m]",
                    "s",
                    "suites/s.yaml",
                    f"c{i}",
                    "m",
                    {},
                    "default",
                    [],
                    [],
                    [repeat],
                    judge,
                    float(judge),
                )
            )
            label = Label(
                case=f"c{i}",
                check="helpful",
                output_digest=digest(output),
                label="pass" if person else "fail",
                output=output,
                rubric=RUBRIC,
            )
            save_label(path, label)
        started = time.perf_counter()
        report = calibrate(cases, {"suites/s.yaml": read_labels(path)}, width=width)
        took = time.perf_counter() - started
    (judge,) = report.judges
    print(
        f"true kappa {true_kappa():.3f}; the judge is lenient (passes {1 - SPECIFICITY:.0%} of"
        f" what people fail, fails {1 - SENSITIVITY:.0%} of what they pass)"
    )
    print(
        f"calibrate on {judge.n} labels: kappa {judge.kappa:.3f}, 95% CI [{judge.ci_low:.3f},"
        f" {judge.ci_high:.3f}], bias {judge.bias} (McNemar p={judge.bias_p:.2g}),"
        f" agreement {judge.agreement:.0%}; {took:.2f} s"
    )
    assert judge.ci_low is not None and judge.ci_high is not None
    inside = judge.ci_low <= true_kappa() <= judge.ci_high
    print(f"  the interval {'holds' if inside else 'MISSES'} the true kappa")
    assert judge.labels_needed is not None
    return judge.labels_needed


def coverage(n: int, trials: int, seed: int) -> tuple[float, float]:
    """How often the interval holds the true kappa, and how often the bias is named."""
    rng = random.Random(seed)
    held = named = 0
    for trial in range(trials):
        confusion = draw(n, rng)
        interval = kappa_interval(confusion, resamples=1000, seed=trial)
        assert interval.ci_low is not None and interval.ci_high is not None
        held += interval.ci_low <= true_kappa() <= interval.ci_high
        named += bias_direction(confusion)[0] == "lenient"
    return held / trials, named / trials


def widths(n: int, trials: int, seed: int) -> list[float]:
    """Interval widths over ``trials`` draws of ``n`` labels."""
    rng = random.Random(seed)
    found = []
    for trial in range(trials):
        interval = kappa_interval(draw(n, rng), resamples=500, seed=trial)
        assert interval.ci_low is not None and interval.ci_high is not None
        found.append(interval.ci_high - interval.ci_low)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=200, help="labels of the whole-path run")
    parser.add_argument("--trials", type=int, default=200, help="draws per simulation")
    parser.add_argument("--width", type=float, default=0.2, help="the interval width aimed at")
    parser.add_argument("--seed", type=int, default=26)
    args = parser.parse_args()

    said = whole_path(args.labels, args.seed, args.width)

    held, named = coverage(args.labels, args.trials, args.seed + 1)
    print(
        f"over {args.trials} draws of {args.labels} labels: the 95% interval held the true"
        f" kappa in {held:.1%}, the bias was named lenient in {named:.1%}"
    )

    true_rates = Confusion(*(round(p * 1_000_000) for p in cell_probabilities()))
    truth = labels_needed(true_rates, args.width)
    assert truth is not None
    medians = []
    for source, needed in (("calibrate said", said), ("the true rates give", truth)):
        found = widths(needed, args.trials, args.seed + 3)
        low, _, high = statistics.quantiles(found, n=4)
        medians.append(statistics.median(found))
        print(
            f"labels for a {args.width:g}-wide interval: {source} {needed}; over {args.trials}"
            f" draws of {needed} labels the median width was {medians[-1]:.3f} (quartiles"
            f" {low:.3f} to {high:.3f})"
        )
    failed = []
    if held < 0.90:
        failed.append(f"coverage {held:.1%} < 90%")
    if named < 0.80:
        failed.append(f"bias named in {named:.1%} < 80%")
    for median in medians:
        if abs(median - args.width) > 0.15 * args.width:
            failed.append(f"median width {median:.3f} is not within 15% of {args.width:g}")
    print("FAILED: " + "; ".join(failed) if failed else "all checks hold")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
