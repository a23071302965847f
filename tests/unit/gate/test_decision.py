"""The gate's decision: a paired comparison of two runs, its reason and its saved form."""

from __future__ import annotations

import math

import pytest

from promptsuite.gate import GateVerdict, compare_paired
from promptsuite.stats import mcnemar_exact


def test_a_uniform_drop_beyond_the_margin_fails() -> None:
    baseline = [0.4 + 0.6 * i / 39 for i in range(40)]
    current = [x - 0.3 for x in baseline]
    verdict = compare_paired(baseline, current, [True] * 40, [x >= 0.5 for x in current])
    assert verdict.decision == "fail"
    assert verdict.ci_high < -0.05
    assert verdict.mean_diff == pytest.approx(-0.3)
    assert verdict.pass_to_fail > 0 and verdict.fail_to_pass == 0
    assert verdict.p_value_mcnemar == mcnemar_exact(verdict.pass_to_fail, 0)
    assert verdict.cases_needed is None
    assert verdict.reason.startswith("fail: regression")


def test_identical_runs_pass_with_a_zero_width_interval() -> None:
    scores = [0.0, 0.5, 1.0, 1.0, 0.25]
    flags = [s >= 0.5 for s in scores]
    verdict = compare_paired(scores, scores, flags, flags)
    assert verdict.decision == "pass"
    assert (verdict.ci_low, verdict.ci_high, verdict.mean_diff) == (0.0, 0.0, 0.0)
    assert (verdict.pass_to_fail, verdict.fail_to_pass, verdict.p_value_mcnemar) == (0, 0, 1.0)
    assert verdict.reason.startswith("pass: ")


def test_a_noisy_small_sample_is_inconclusive_and_says_how_many_cases_would_decide() -> None:
    baseline = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    current = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    verdict = compare_paired(
        baseline, current, [b == 1 for b in baseline], [c == 1 for c in current]
    )
    assert verdict.decision == "inconclusive"
    assert verdict.ci_low < -0.05 < verdict.ci_high
    assert verdict.cases_needed is not None and verdict.cases_needed > verdict.n_cases
    assert f"about {verdict.cases_needed} cases" in verdict.reason
    assert "\n" not in verdict.reason


def test_cases_needed_is_enough_to_decide() -> None:
    # Repeating the same differences keeps their mean and spread while adding cases, so
    # at the estimated size the interval should clear the margin.
    pattern = [0.0, 0.0, 0.0, -0.5, 0.5, 0.0, -0.5, 0.0, 0.25, 0.0]
    baseline = [0.5] * len(pattern)
    current = [0.5 + d for d in pattern]
    small = compare_paired(baseline, current, [True] * 10, [True] * 10, resamples=2000)
    assert small.decision == "inconclusive" and small.cases_needed is not None
    copies = math.ceil(small.cases_needed / len(pattern))
    large = compare_paired(
        baseline * copies, current * copies, [True] * 10 * copies, [True] * 10 * copies
    )
    assert large.decision == "pass"


def test_no_cases_is_inconclusive_with_a_reason() -> None:
    verdict = compare_paired([], [], [], [])
    assert verdict.decision == "inconclusive"
    assert verdict.n_cases == 0 and verdict.cases_needed is None
    assert (verdict.ci_low, verdict.ci_high) == (-1.0, 1.0)
    assert "no cases" in verdict.reason


def test_mismatched_lengths_name_every_count() -> None:
    with pytest.raises(ValueError, match="3 baseline scores, 2 current scores"):
        compare_paired([1.0, 1.0, 1.0], [1.0, 1.0], [True] * 3, [True] * 2)
    with pytest.raises(ValueError, match="2 current pass flags"):
        compare_paired([1.0] * 3, [1.0] * 3, [True] * 3, [True] * 2)


@pytest.mark.parametrize("margin", [0.0, -0.1])
def test_margin_must_be_positive(margin: float) -> None:
    with pytest.raises(ValueError, match="margin must be positive"):
        compare_paired([1.0], [1.0], [True], [True], margin=margin)


def test_a_confidence_out_of_range_is_refused_even_without_cases() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        compare_paired([], [], [], [], confidence=1.0)


#: A gate's verdict as results files written before the decision got its own name hold it.
SAVED = {
    "verdict": "inconclusive",
    "mean_diff": -0.05,
    "ci_low": -0.2,
    "ci_high": 0.1,
    "sd_diff": 0.3,
    "n_cases": 8,
    "pass_to_fail": 2,
    "fail_to_pass": 1,
    "p_value_mcnemar": 1.0,
    "margin": 0.05,
    "confidence": 0.95,
    "cases_needed": 300,
    "reason": "inconclusive: ...",
}


def test_the_saved_form_keeps_its_keys_and_their_order() -> None:
    verdict = GateVerdict.from_dict(SAVED)
    assert verdict.decision == "inconclusive" and verdict.cases_needed == 300
    assert list(verdict.to_dict().items()) == list(SAVED.items())


def test_the_saved_form_round_trips() -> None:
    verdict = compare_paired([1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [True, False, True], [True] * 3)
    assert GateVerdict.from_dict(verdict.to_dict()) == verdict
    assert verdict.to_dict()["verdict"] == verdict.decision
