"""Cohen's kappa, its bootstrap interval, its variance, the labels needed and the bias."""

from __future__ import annotations

import random
import statistics

import pytest

from promptsuite.agreement import (
    Confusion,
    bias_direction,
    kappa_interval,
    kappa_variance,
    labels_needed,
)


def test_confusion_counts_pairs_and_kappa_matches_cohens_formula() -> None:
    person = [True, True, True, False, False, False, True, False]
    judge = [True, True, False, True, False, False, True, True]
    confusion = Confusion.of(person, judge)
    assert confusion.to_dict() == {
        "both_pass": 3,
        "judge_only": 2,
        "person_only": 1,
        "both_fail": 2,
    }
    assert confusion.agreement == 5 / 8
    chance = (4 / 8) * (5 / 8) + (4 / 8) * (3 / 8)
    assert confusion.kappa == pytest.approx((5 / 8 - chance) / (1 - chance))


@pytest.mark.parametrize(
    ("confusion", "kappa"),
    [
        (Confusion(5, 0, 0, 5), 1.0),
        (Confusion(0, 5, 5, 0), -1.0),
        (Confusion(5, 5, 0, 0), 0.0),  # a judge that passes everything knows nothing
        (Confusion(5, 0, 0, 0), None),  # one verdict for everything: chance explains it all
        (Confusion(), None),
    ],
)
def test_kappa_at_its_edges(confusion: Confusion, kappa: float | None) -> None:
    assert confusion.kappa == kappa


def test_unequal_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 labels but 1 judge verdicts"):
        Confusion.of([True, False], [True])


def test_the_interval_is_seeded_and_holds_the_estimate() -> None:
    confusion = Confusion(40, 10, 5, 45)
    first = kappa_interval(confusion, seed=3)
    assert first == kappa_interval(confusion, seed=3)
    assert first != kappa_interval(confusion, seed=4)
    assert first.ci_low is not None and first.ci_high is not None and first.kappa is not None
    assert first.ci_low < first.kappa < first.ci_high
    assert first.defined == first.resamples == 2000


def test_an_undefined_kappa_has_no_interval() -> None:
    interval = kappa_interval(Confusion(7, 0, 0, 0))
    assert (interval.kappa, interval.ci_low, interval.ci_high, interval.defined) == (
        None,
        None,
        None,
        0,
    )


def test_resamples_that_leave_kappa_undefined_are_set_aside() -> None:
    interval = kappa_interval(Confusion(6, 0, 0, 1), resamples=500)
    assert 0 < interval.defined < 500
    assert interval.ci_low == interval.ci_high == 1.0


def test_variance_matches_a_simulation() -> None:
    weights = [40, 10, 5, 45]
    variance = kappa_variance(Confusion(*weights))
    assert variance is not None
    rng = random.Random(1)
    n, kappas = 200, []
    for _ in range(2000):
        cells = [0, 0, 0, 0]
        for code in rng.choices(range(4), weights=weights, k=n):
            cells[code] += 1
        kappa = Confusion(*cells).kappa
        assert kappa is not None
        kappas.append(kappa)
    assert statistics.variance(kappas) * n == pytest.approx(variance, rel=0.1)


def test_labels_needed_shrinks_with_a_wider_target_and_needs_disagreement() -> None:
    confusion = Confusion(40, 10, 5, 45)
    narrow, wide = labels_needed(confusion, 0.1), labels_needed(confusion, 0.2)
    assert narrow is not None and wide is not None
    assert narrow == pytest.approx(4 * wide, rel=0.01)
    assert labels_needed(Confusion(10, 0, 0, 10), 0.2) is None
    with pytest.raises(ValueError, match="width must be positive"):
        labels_needed(confusion, 0)


@pytest.mark.parametrize(
    ("confusion", "bias"),
    [
        (Confusion(20, 15, 1, 20), "lenient"),
        (Confusion(20, 1, 15, 20), "strict"),
        (Confusion(20, 3, 2, 20), "none"),
    ],
)
def test_bias_names_the_direction_of_significant_disagreement(
    confusion: Confusion, bias: str
) -> None:
    named, p_value = bias_direction(confusion)
    assert named == bias
    assert (p_value < 0.05) == (bias != "none")
