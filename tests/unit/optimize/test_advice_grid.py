"""The verdict over a grid of every branch of the advice, against a recorded fixture.

``golden/decide_grid.json`` was recorded from ``decide`` as it stood before its rules became
a table (commit b2af236): every case of the grid must keep exactly the same verdict,
headline and reason lines, in the same order. The grid is the product of the options below;
the fixture stores each distinct verdict once (with the first case that gives it and how many
do) and, per row of the grid, the verdict of every case in it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from promptsuite.optimize.analysis import (
    Evidence,
    FailureFacts,
    FinalScore,
    LabelFacts,
    Plateau,
    SearchFacts,
    Verdict,
    decide,
)

FIXTURE = Path(__file__).parent / "golden" / "decide_grid.json"
TARGET = 0.9
BUDGET = 12


def plateau(decided: bool, plateaued: bool, gain: float, low: float, high: float) -> Plateau:
    window = 4
    if not decided:
        reason = "too early to tell: 3 candidates, and a plateau is judged over the last 4"
    elif plateaued:
        reason = f"plateaued: the best score moved {gain:+.3f} over the last {window} candidates"
    else:
        reason = f"still improving: the best score moved {gain:+.3f} over the last {window}"
    return Plateau(
        decided=decided,
        plateaued=plateaued,
        window=window,
        margin=0.01,
        confidence=0.8,
        gain=gain,
        ci_low=low,
        ci_high=high,
        sd_gain=0.3 if decided else 0.0,
        n_cases=40 if decided else 0,
        start_index=3 if decided else None,
        best_index=7,
        plateau_point=4 if plateaued else None,
        cases_to_decide=120 if plateaued and high > 0.01 else None,
        reason=reason,
    )


WHY_REFERENCES = "no train case has a reference answer (state `reference:`...)"
WHY_BOOTSTRAP = "bootstrapped demos need the model's own passing replies, and none passed"
EXTRA = ("against your prompt on 20 test cases: +0.100 mean score", "cost: 1.8x the tokens")

#: Score, source, worst-repeat score, held-out test cases.
FINALS = {
    "val-above-target": FinalScore(0.95, "val", None, 30),
    "val-3-cases-below": FinalScore(0.5, "val", None, 3),
    "test-3-cases": FinalScore(0.95, "test", None, 3),
    "test-4-cases-below": FinalScore(0.5, "test", 0.3, 4),
    "test-5-cases-at-target": FinalScore(0.9, "test", 0.9, 5),
    "reached": FinalScore(0.95, "test", None, 20),
    "reached-reliably": FinalScore(0.95, "test", 0.92, 20),
    "reached-on-average-only": FinalScore(0.95, "test", 0.7, 20),
    "below": FinalScore(0.6, "test", None, 20),
    "below-and-unreliable": FinalScore(0.6, "test", 0.4, 20),
}
SEARCHES = {
    "empty-without-references": SearchFacts(0, False, 0, (WHY_REFERENCES, WHY_BOOTSTRAP)),
    "empty": SearchFacts(0, False, 6),
    "no-demos-no-references": SearchFacts(8, False, 0, (WHY_REFERENCES,)),
    "no-demos": SearchFacts(8, False, 6),
    "demos-no-references": SearchFacts(8, True, 0),
    "demos": SearchFacts(8, True, 6),
}
STOPS = {
    "ran-to-budget": None,
    "stopped-early": "ValueError: could not parse the proposed instruction",
}
PLATEAUS = {
    "too-early": plateau(False, False, 0.0, 0.0, 0.0),
    "improving": plateau(True, False, 0.2, 0.1, 0.3),
    "improving-slowly": plateau(True, False, 0.04, 0.02, 0.06),
    "plateaued": plateau(True, True, 0.0, 0.0, 0.0),
    "plateaued-within-noise": plateau(True, True, 0.025, -0.01, 0.06),
}
#: Where prompting fails (the resistant cases are a dimension of their own), and the extra
#: reasons.
FAILURES = {
    "nothing": (FailureFacts(), ()),
    "cost-only": (FailureFacts(), EXTRA),
    "format": (FailureFacts("format", ("the best prompt fails 9 test cases: 9 format",)), EXTRA),
    "knowledge": (
        FailureFacts("knowledge", ("the best prompt fails 9 test cases", "e.g. c001")),
        EXTRA,
    ),
    "unclassified": (FailureFacts(None, ("the best prompt fails 9 test cases: 0 classified",)), ()),
}
BASIS = "a fine-tune's learning curve reaches the target at about 30 train rows"
LABELS = {
    "too-few": LabelFacts(labelled=20, needs_reference=0, min_examples=50),
    "exactly-enough": LabelFacts(labelled=50, needs_reference=0, min_examples=50),
    "enough-some-unlabelled": LabelFacts(labelled=60, needs_reference=7, min_examples=50),
    "measured-too-few": LabelFacts(labelled=12, needs_reference=3, min_examples=30, basis=BASIS),
    "measured-enough": LabelFacts(labelled=40, needs_reference=0, min_examples=30, basis=BASIS),
}
RESISTANT = {"none-resistant": 0, "4-resistant": 4}

#: The dimensions of the grid, in the order of its product (a row fixes the first three).
DIMENSIONS: dict[str, dict[str, Any]] = {
    "final": FINALS,
    "search": SEARCHES,
    "stop": STOPS,
    "plateau": PLATEAUS,
    "failures": FAILURES,
    "labels": LABELS,
    "resistant": RESISTANT,
}
ROW_DIMENSIONS = 3


def verdict_of(case: dict[str, Any]) -> Verdict:
    failures, extra_reasons = case["failures"]
    return decide(
        Evidence(
            plateau=case["plateau"],
            final=case["final"],
            target=TARGET,
            budget=BUDGET,
            search=case["search"],
            labels=case["labels"],
            failures=replace(failures, resistant=case["resistant"]),
            extra_reasons=extra_reasons,
            stopped_early=case["stop"],
        )
    )


def as_data(verdict: Verdict) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(asdict(verdict)))
    return data


def record() -> dict[str, Any]:
    """Every case of the grid through ``decide``, as the fixture stores it."""
    verdicts: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    grid: dict[str, list[int]] = {}
    for names in itertools.product(*DIMENSIONS.values()):
        case = {
            dimension: options[name]
            for (dimension, options), name in zip(DIMENSIONS.items(), names, strict=True)
        }
        data = as_data(verdict_of(case))
        key = json.dumps(data, sort_keys=True)
        if key not in index:
            index[key] = len(verdicts)
            verdicts.append({"example": "/".join(names), "cases": 0, **data})
        verdicts[index[key]]["cases"] += 1
        grid.setdefault("/".join(names[:ROW_DIMENSIONS]), []).append(index[key])
    return {
        "dimensions": {dimension: list(options) for dimension, options in DIMENSIONS.items()},
        "verdicts": verdicts,
        "grid": grid,
    }


def dump(fixture: dict[str, Any]) -> str:
    text = json.dumps(fixture, indent=1, ensure_ascii=False)
    # One grid row per line: the verdict numbers of a row joined.
    return re.sub(
        r"\[\n\s*(\d+(?:,\n\s*\d+)*)\n\s*\]",
        lambda match: "[" + ", ".join(re.findall(r"\d+", match.group(1))) + "]",
        text,
    )


def cases_of(fixture: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Case id -> its verdict, for every case of a recorded grid."""
    tails = list(itertools.product(*list(fixture["dimensions"].values())[ROW_DIMENSIONS:]))
    verdicts = [
        {k: v for k, v in verdict.items() if k not in ("example", "cases")}
        for verdict in fixture["verdicts"]
    ]
    return {
        f"{row}/{'/'.join(tail)}": verdicts[number]
        for row, numbers in fixture["grid"].items()
        for tail, number in zip(tails, numbers, strict=True)
    }


def test_every_case_of_the_grid_keeps_its_recorded_verdict(tmp_path: Path) -> None:
    obtained = record()
    if os.environ.get("PROMPTSUITE_UPDATE_GOLDEN"):
        FIXTURE.parent.mkdir(exist_ok=True)
        FIXTURE.write_text(dump(obtained), encoding="utf-8")
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    written = tmp_path / "decide_grid.obtained.json"
    written.write_text(dump(obtained), encoding="utf-8")
    now, then = cases_of(obtained), cases_of(expected)
    assert list(now) == list(then), "the grid's cases changed"
    changed = [case for case in now if now[case] != then[case]]
    assert not changed, (
        f"{len(changed)} cases changed verdict, the first {changed[0]}:\n"
        f"expected {json.dumps(then[changed[0]], indent=1)}\n"
        f"obtained {json.dumps(now[changed[0]], indent=1)}\n"
        f"compare {written} with {FIXTURE}; if the change is intended, regenerate with "
        "PROMPTSUITE_UPDATE_GOLDEN=1"
    )
    assert obtained == expected


def test_the_grid_reaches_every_branch_of_the_advice() -> None:
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert len(cases_of(fixture)) == 10 * 6 * 2 * 5 * 5 * 5 * 2
    lines = [
        "\n".join((verdict["code"], verdict["headline"], *verdict["reasons"]))
        for verdict in fixture["verdicts"]
    ]
    branches = {
        "too few held-out test cases": "only 3 held-out test cases",
        "validation only": "nothing was verified on held-out test cases",
        "target reached": "target-reached",
        "on average, not reliably": "passes on average but not reliably",
        "no candidates": "the search found nothing",
        "stopped early": "stopped before it produced enough candidates",
        "no references": "without labelled examples only",
        "plateau undecided": "raise --budget above 12",
        "still improving": "still-improving",
        "an estimate to the target": "the target is about 7 candidates away",
        "resistant cases": "4 cases were never solved",
        "format failures": "plateau-format",
        "knowledge failures": "lacks the knowledge",
        "enough labels": "plateau-finetune",
        "collect more": "collect about 30 more",
        "the fixed label threshold": "fine-tuning is advised from 50",
        "a measured label threshold": BASIS,
        "cases needing a reference": "7 cases need a reference answer",
    }
    missing = [name for name, marker in branches.items() if not any(marker in t for t in lines)]
    assert not missing
    # Still improving without an estimate to the target: reached on average, not reliably.
    assert any(
        v["code"] == "still-improving" and v["gain_estimate"]["candidates_to_target"] is None
        for v in fixture["verdicts"]
    )
