"""Racing in the auto search: rounds, drops of candidates clearly behind, early stops; every
call of the scripted model counted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from promptsuite.config import RunSettings
from promptsuite.models import parse_model_spec
from promptsuite.optimize import Candidate, CaseScore, OptimizationRun
from promptsuite.optimize.analysis import analyze
from promptsuite.optimize.search import SearchOptions, run_search
from promptsuite.optimize.search._racing import (
    MIN_RACE_CASES,
    behind,
    clearly_reaches,
    race_order,
    rounds,
)
from promptsuite.suite import Suite, load_suite
from tests.unit.optimize import optimize_scripted
from tests.unit.optimize.optimize_runs import make_run, nested
from tests.unit.optimize.optimize_scripted import PROMPT, SCRIPT, suite_text

#: 60 cases, 18 on validation: the baseline passes the easy ones, any demo the hard ones too.
KINDS = {"easy": 20, "hard": 30, "stubborn": 10}


@pytest.fixture
def suite(tmp_path: Path) -> Suite:
    (tmp_path / "suite.yaml").write_text(suite_text(KINDS), encoding="utf-8")
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    return load_suite(tmp_path / "suite.yaml")


def search(suite: Suite, cache: Path, **options: object) -> OptimizationRun:
    optimize_scripted.CALLS.clear()
    values: dict[str, object] = {
        "model": parse_model_spec(SCRIPT),
        "budget": 8,
        "settings": RunSettings(cache_path=cache),
    }
    values.update(options)
    return run_search(suite, SearchOptions(**values)).run  # type: ignore[arg-type]


def scores(index: int, passes: str, *, stopped: str | None = None) -> Candidate:
    cases = [
        CaseScore(case_id=f"c{i:02d}", split="val", tags=[], scores=[float(p)], passes=[p == "1"])
        for i, p in enumerate(passes)
    ]
    return Candidate(
        index=index,
        source="demos",
        instruction="i",
        demos=[],
        val_score=sum(s.score for s in cases) / len(cases),
        cases=cases,
        val_cases=len(cases),
        stopped=stopped,
    )


def test_rounds_are_a_sixth_of_the_cases_at_least_four():
    assert rounds(29) == [5, 5, 5, 5, 5, 4]
    assert rounds(12) == [4, 4, 4]
    assert rounds(3) == [3]
    assert sum(rounds(101)) == 101


def test_race_order_deals_the_tags_in_turn_and_is_seeded(suite):
    val = list(suite.cases)
    order = race_order(val, seed=0)
    assert sorted(c.id for c in order) == sorted(c.id for c in val)
    first = Counter(c.id.split("-")[0] for c in order[:3])
    assert first == {"easy": 1, "hard": 1, "stubborn": 1}
    assert [c.id for c in race_order(val, seed=0)] == [c.id for c in order]
    assert [c.id for c in race_order(val, seed=1)] != [c.id for c in order]


def test_a_candidate_that_cannot_catch_up_is_behind():
    best = scores(1, "1111100000")  # 5 of 10
    # 0 of 6 so far and 4 cases left: at most 4, never more than 5.
    why = behind(best, scores(2, "000000").cases, 10, seed=0)
    assert why == "cannot beat candidate 1 (0.500) even by passing the 4 cases left"
    # 1 of 6 with 4 left could still reach 5, a tie: a tie never takes the title either.
    assert behind(best, scores(2, "100000").cases, 10, seed=0) is not None
    assert behind(best, scores(2, "110000").cases, 10, seed=0) is None


def test_clearly_behind_needs_enough_cases_and_an_interval_below_zero():
    best = scores(1, "1" * 30)
    few = scores(2, "0" * (MIN_RACE_CASES - 1)).cases
    assert behind(best, few, 100, seed=0) is None
    many = scores(2, "0101000000").cases
    why = behind(best, many, 100, seed=0)
    assert why is not None and why.startswith("clearly behind candidate 1: -0.800 mean score")
    close = scores(2, "1111111101").cases
    assert behind(best, close, 100, seed=0) is None


def test_the_target_is_clearly_reached_only_with_a_high_lower_bound():
    assert clearly_reaches(scores(1, "1" * 12), 0.8) is not None
    assert clearly_reaches(scores(1, "1" * 11 + "0"), 0.8) is None
    assert clearly_reaches(scores(1, "1" * 12, stopped="dropped"), 0.5) is None


def test_racing_drops_candidates_behind_and_stops_once_the_plateau_is_decided(suite, tmp_path):
    raced = search(suite, tmp_path / "raced.sqlite")
    full = search(suite, tmp_path / "full.sqlite", racing=False)
    # Every call of the scripted model is a validation case some candidate was scored on.
    assert len(optimize_scripted.CALLS) == full.task_model_usage.calls
    assert full.task_model_usage.calls == sum(c.val_cases for c in full.candidates) == 9 * 18
    assert raced.task_model_usage.calls == sum(c.val_cases for c in raced.candidates)
    assert raced.task_model_usage.calls < full.task_model_usage.calls / 2
    partial = [c for c in raced.candidates if not c.complete]
    assert partial and all(c.val_cases < 18 and c.stopped for c in partial)
    assert all(c.val_cases == 18 and c.stopped is None for c in full.candidates)
    assert raced.stopped is not None and raced.stopped.reason == "plateau"
    assert raced.stopped.candidates == len(raced.candidates) < len(full.candidates)
    assert raced.stopped.per_candidate is not None
    assert raced.stopped.per_candidate.calls == 18
    assert raced.settings.racing and not full.settings.racing
    # The same best prompt, and the plateau the analysis judges is the one that stopped it.
    assert raced.best_candidate().index == full.best_candidate().index == 1
    analysis = analyze(raced)
    assert analysis.plateau.plateaued and analysis.best_index == 1
    assert analysis.plateau.reason == raced.stopped.detail


def test_the_search_stops_once_the_target_is_clearly_reached(suite, tmp_path):
    run = search(suite, tmp_path / "cache.sqlite", target=0.6)
    assert [c.source for c in run.candidates] == ["baseline", "demos"]
    assert run.stopped is not None and run.stopped.reason == "target"
    assert run.stopped.detail.startswith("candidate 1 clearly reached the target 0.6")
    assert len(optimize_scripted.CALLS) == run.task_model_usage.calls == 2 * 18


def test_a_dropped_candidate_never_becomes_the_best_even_with_a_higher_mean():
    run = make_run(3, 10, nested([0.5, 0.6, 0.7], 10))
    lucky = run.candidates[2]
    run.candidates[2] = lucky.model_copy(
        update={"cases": lucky.cases[:2], "val_score": 1.0, "val_cases": 2, "stopped": "behind"}
    )
    assert run.best_candidate().index == 1
    analysis = analyze(run, window=1)
    assert analysis.best_index == 1
    assert [p.best_index for p in analysis.trajectory] == [0, 1, 1]
    assert analysis.trajectory[2].val_cases == 2 and analysis.trajectory[2].stopped == "behind"
    assert analysis.plateau.start_index == 1 and analysis.plateau.n_cases == 10
    assert any("1 of 3 candidates were scored on part of" in r for r in analysis.verdict.reasons)
