"""Plateau detection, the verdicts and where prompting fails, on deterministic trajectories."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from promptsuite.optimize.analysis import analyze, best_so_far, default_window, detect_plateau
from promptsuite.suite import Suite, load_suite
from tests.unit.optimize.optimize_runs import coin_flips, make_run, nested

PLATEAU = [0.30, 0.50, 0.60, 0.65, 0.65, 0.66, 0.65, 0.64, 0.66, 0.65, 0.65, 0.66]
IMPROVING = [0.20 + 0.05 * k for k in range(12)]


def test_best_so_far_keeps_the_first_of_equal_scores() -> None:
    assert best_so_far([0.2, 0.5, 0.5, 0.4, 0.6]) == [0, 1, 1, 1, 4]


def test_default_window_is_a_quarter_of_the_budget_and_at_least_three() -> None:
    assert default_window(budget=40, n_candidates=12) == 10
    assert default_window(budget=4, n_candidates=4) == 3


def test_a_curve_that_flattens_is_a_plateau_found_where_it_flattened() -> None:
    run = make_run(12, 40, nested(PLATEAU, 40))
    plateau = analyze(run, window=4).plateau
    assert plateau.decided and plateau.plateaued
    assert plateau.gain == 0.0 and (plateau.ci_low, plateau.ci_high) == (0.0, 0.0)
    # 0.65 and 0.66 of 40 cases are both 26 cases: candidate 3 stays the best. From 0.60
    # (24 cases) to 26 is within the bootstrap noise; from 0.50 (20 cases) it is not.
    assert plateau.plateau_point == 2
    assert plateau.start_index == 3 and plateau.best_index == 3


def test_a_curve_that_keeps_improving_is_not_a_plateau() -> None:
    run = make_run(12, 40, nested(IMPROVING, 40))
    plateau = analyze(run, window=4).plateau
    assert plateau.decided and not plateau.plateaued
    assert plateau.gain == pytest.approx(0.20)
    assert plateau.ci_low > plateau.margin
    assert plateau.plateau_point is None
    assert "still improving" in plateau.reason


def test_pure_noise_is_a_plateau_even_though_the_best_so_far_creeps_up() -> None:
    run = make_run(16, 40, coin_flips(0.5, seed=3))
    scores = [c.val_score for c in run.candidates]
    assert len(set(best_so_far(scores))) > 1  # lucky candidates raised the best so far
    plateau = analyze(run, window=4).plateau
    assert plateau.decided and plateau.plateaued


def test_a_new_best_within_the_noise_is_still_a_plateau_and_says_how_many_cases_decide() -> None:
    # The last candidate passes one more case than the old best: +0.025 over 40 cases.
    levels = [0.5, 0.5, 0.5, 0.5, 0.525]
    run = make_run(5, 40, nested(levels, 40))
    plateau = analyze(run, window=3).plateau
    assert plateau.plateaued
    assert plateau.gain == pytest.approx(0.025)
    assert plateau.ci_low <= 0.01 < plateau.ci_high
    assert plateau.cases_to_decide is not None and plateau.cases_to_decide > 40


def test_too_few_candidates_is_undecided_and_advises_a_longer_search() -> None:
    run = make_run(3, 20, nested([0.2, 0.3, 0.4], 20), budget=3)
    analysis = analyze(run, window=3)
    assert not analysis.plateau.decided
    assert analysis.verdict.code == "undecided"
    assert "raise --budget" in analysis.verdict.headline
    assert "too early" in analysis.plateau.reason


def test_detect_plateau_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="one entry per candidate"):
        detect_plateau([0, 1], [0.1], [{}, {}], window=1)
    with pytest.raises(ValueError, match="window"):
        detect_plateau([0], [0.1], [{}], window=0)
    with pytest.raises(ValueError, match="margin"):
        detect_plateau([0], [0.1], [{}], window=1, margin=-0.1)


def test_verdict_target_reached() -> None:
    run = make_run(6, 30, nested([0.5, 0.7, 0.95, 0.95, 0.95, 0.95], 30), target=0.9)
    analysis = analyze(run, window=3)
    assert analysis.verdict.code == "target-reached"
    assert analysis.final.best_score == pytest.approx(0.95, abs=0.02)


def test_verdict_still_improving_estimates_the_gain_with_its_interval_and_cap() -> None:
    run = make_run(12, 40, nested(IMPROVING, 40), target=0.95, budget=12)
    verdict = analyze(run, window=4).verdict
    assert verdict.code == "still-improving"
    estimate = verdict.gain_estimate
    assert estimate is not None
    assert estimate.per_candidate == pytest.approx(0.05)
    assert estimate.low <= estimate.expected <= estimate.high
    room = 1.0 - 0.75
    assert estimate.high <= room + 1e-12
    assert estimate.candidates_to_target == 4  # (0.95 - 0.75) / 0.05
    assert any("extending the search" in r for r in verdict.reasons)


def test_verdict_plateau_with_enough_labels_advises_fine_tuning() -> None:
    run = make_run(12, 80, nested(PLATEAU, 80))
    analysis = analyze(run, window=4)
    assert analysis.labelled == 53  # passing outputs of 0.66 * 80 cases, all validation
    assert analysis.verdict.code == "plateau-finetune"
    assert analysis.verdict.collect_more is None


def test_verdict_plateau_with_too_few_labels_says_how_many_to_collect() -> None:
    run = make_run(12, 40, nested(PLATEAU, 40))
    analysis = analyze(run, window=4)
    assert analysis.labelled == 26
    assert analysis.verdict.code == "plateau-collect"
    assert analysis.verdict.collect_more == 50 - 26
    assert len(analysis.needs_reference) == 14
    assert analysis.verdict.headline.endswith("collect about 24 more.")


def test_passing_on_average_but_not_reliably_does_not_reach_the_target() -> None:
    # Every case passes on repeats 0 and 1 and fails on repeat 2 under the later candidates.
    def outcome(k: int, i: int, r: int) -> bool:
        return k > 0 and (r < 2 or i % 10 == 0)

    run = make_run(6, 30, outcome, repeats=3, target=0.6)
    strict = analyze(run, window=3)
    assert strict.final.best_score > 0.6
    assert strict.final.best_consistent_score == pytest.approx(0.1)
    assert strict.verdict.code != "target-reached"
    assert any("not reliably" in r for r in strict.verdict.reasons)
    assert analyze(run, window=3, require_consistency=False).verdict.code == "target-reached"
    unreliable = [c for c in strict.cases if c.status == "unreliable" and c.split == "val"]
    assert len(unreliable) == 27
    assert unreliable[0].best_pass_rate == pytest.approx(2 / 3)


def test_final_figures_come_from_the_held_out_test_split() -> None:
    run = make_run(
        8,
        30,
        nested([0.5, 0.6, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9], 30),
        target=0.85,
        test_outcome=lambda k, i, r: i < (10 if k == 0 else 12),
        test_cases=20,
    )
    analysis = analyze(run, window=3)
    assert analysis.final.source == "test"
    assert analysis.final.n_cases == 20
    assert analysis.final.best_score == pytest.approx(0.6)
    assert analysis.final.improvement == pytest.approx(0.1)
    assert analysis.final.fail_to_pass == 2
    # 0.9 on validation, but 0.6 on the held-out cases: the target is not reached.
    assert analysis.verdict.code != "target-reached"
    assert "best test score 0.600" in analysis.verdict.reasons[0]


def test_cases_are_classified_and_tags_sorted_by_their_ceiling() -> None:
    def outcome(k: int, i: int, r: int) -> bool:
        if i < 5:
            return False  # resistant
        if i < 10:
            return k % 2 == 0  # flips every candidate
        if i < 15:
            return k == 3  # only one candidate (not the best) solved it
        return True

    run = make_run(8, 20, outcome, tags=lambda i: ["hard"] if i < 5 else ["easy"])
    analysis = analyze(run, window=3)
    status = {c.case_id: c.status for c in analysis.cases}
    assert analysis.best_index == 0
    assert {status[f"c{i:03d}"] for i in range(5)} == {"resistant"}
    assert {status[f"c{i:03d}"] for i in range(5, 10)} == {"unstable"}
    assert {status[f"c{i:03d}"] for i in range(10, 15)} == {"solved-elsewhere"}
    assert {status[f"c{i:03d}"] for i in range(15, 20)} == {"solved"}
    assert [t.tag for t in analysis.tags] == ["hard", "easy"]
    assert analysis.tags[0].ceiling == 0.0 and analysis.tags[0].resistant == 5


def test_cost_compares_tokens_and_prices_them_at_the_call_volume() -> None:
    run = make_run(6, 20, nested([0.5, 0.6, 0.7, 0.7, 0.7, 0.7], 20), model="mini")
    analysis = analyze(run, window=3, prices={"mini": (1.0, 2.0)}, call_volume=1000)
    baseline, best = analysis.cost.lines
    assert best.prompt_tokens_per_call == 180.0 and baseline.prompt_tokens_per_call == 100.0
    assert analysis.cost.prompt_growth == pytest.approx(1.8)
    assert best.usd_per_call == pytest.approx(
        (180 * 1.0 + best.completion_tokens_per_call * 2.0) / 1e6
    )
    assert best.usd_at_volume == pytest.approx(best.usd_per_call * 1000)
    assert "1.8x" in analysis.cost.note


def test_local_models_cost_nothing_and_unknown_models_have_no_price() -> None:
    local = analyze(make_run(4, 10, nested([0.5] * 4, 10)), window=3)
    assert {line.usd_per_call for line in local.cost.lines} == {0.0}
    unknown = analyze(make_run(4, 10, nested([0.5] * 4, 10), model="mystery"), window=3)
    assert {line.usd_per_call for line in unknown.cost.lines} == {None}
    assert "no price" in unknown.cost.note


def test_a_search_that_stopped_early_is_undecided_not_still_improving() -> None:
    run = make_run(2, 30, nested([0.5, 0.5], 30), target=0.9, budget=8)
    assert analyze(run, window=3).verdict.code == "undecided"
    run.optimizer_error = "ValueError: could not parse the proposed instruction"
    verdict = analyze(run, window=3).verdict
    assert verdict.code == "undecided"
    assert any("could not parse the proposed instruction" in r for r in verdict.reasons)


def test_the_analysis_is_json_ready_and_deterministic() -> None:
    run = make_run(10, 30, coin_flips(0.4, seed=9))
    first = json.dumps(asdict(analyze(run, seed=1)), sort_keys=True)
    assert first == json.dumps(asdict(analyze(run, seed=1)), sort_keys=True)
    assert json.loads(first)["verdict"]["code"] in {
        "target-reached",
        "still-improving",
        "plateau-format",
        "plateau-finetune",
        "plateau-collect",
        "undecided",
    }


def test_a_run_without_candidates_is_refused() -> None:
    run = make_run(1, 5, nested([0.5], 5))
    run.candidates.clear()
    with pytest.raises(ValueError, match="no candidates"):
        analyze(run)


# ---------------------------------------------------------------- the honest advisor


def answer_suite(tmp_path: Path, n_val: int, n_test: int) -> Suite:
    """A suite whose case ids match make_run's (c### validation, t### test), each with its
    own answer (``answer i``) and a format rule every case shares."""
    ids = [f"c{i:03d}" for i in range(n_val)] + [f"t{i:03d}" for i in range(n_test)]
    cases = [
        {
            "id": case_id,
            "vars": {"q": case_id},
            "expect": [
                {"type": "equals", "value": f"answer {int(case_id[1:])}"},
                {"type": "word-count", "max": 6},
            ],
        }
        for case_id in ids
    ]
    path = tmp_path / "suite.yaml"
    path.write_text(
        json.dumps({"prompt": {"user": "{{ q }}"}, "models": ["scripted"], "cases": cases}),
        encoding="utf-8",
    )
    return load_suite(path)


def test_a_search_with_no_candidate_is_undecided_and_says_why() -> None:
    run = make_run(1, 20, nested([0.2], 20), train_references=0)
    run.optimizer = "bootstrap"
    verdict = analyze(run, window=3).verdict
    assert verdict.code == "undecided"
    assert "found nothing" in verdict.headline
    assert any("no candidate besides your prompt" in r for r in verdict.reasons)
    assert any("none passed" in r for r in verdict.reasons)
    assert any("no train case has a reference answer" in r for r in verdict.reasons)


def test_a_search_that_could_not_try_labelled_demos_is_undecided() -> None:
    run = make_run(12, 40, nested(PLATEAU, 40), train_references=0, with_demos=False)
    verdict = analyze(run, window=4).verdict
    assert verdict.code == "undecided"
    assert "without labelled examples" in verdict.headline
    assert any("state `reference:`" in r for r in verdict.reasons)


def test_without_held_out_results_nothing_is_decided() -> None:
    run = make_run(6, 30, nested([0.5, 0.7, 0.95, 0.95, 0.95, 0.95], 30), tested=False)
    verdict = analyze(run, window=3).verdict
    assert verdict.code == "undecided"
    assert "held-out" in verdict.headline


def test_right_content_in_the_wrong_shape_is_a_format_plateau(tmp_path: Path) -> None:
    run = make_run(12, 40, nested(PLATEAU, 40), wrong=lambda i: f"Sure! answer {i}")
    analysis = analyze(run, suite=answer_suite(tmp_path, 40, 40), window=4)
    assert analysis.failures.source == "test"
    assert analysis.failures.kinds["format"] == analysis.failures.failing > 0
    assert analysis.verdict.code == "plateau-format"
    assert any("checks that keep failing: equals" in r for r in analysis.verdict.reasons)


def test_the_right_shape_with_the_wrong_content_is_a_knowledge_plateau(tmp_path: Path) -> None:
    run = make_run(12, 80, nested(PLATEAU, 80), wrong=lambda i: f"answer {i + 100}")
    analysis = analyze(run, suite=answer_suite(tmp_path, 80, 80), window=4)
    assert analysis.failures.kinds["knowledge"] == analysis.failures.failing > 0
    assert analysis.verdict.code == "plateau-finetune"
    assert "lacks the knowledge" in analysis.verdict.headline
    example = next(r for r in analysis.verdict.reasons if r.startswith("e.g. "))
    assert "(knowledge)" in example and "expected 'answer" in example


def test_too_few_held_out_cases_decide_nothing() -> None:
    run = make_run(6, 30, nested([0.5, 0.7, 0.95, 0.95, 0.95, 0.95], 30), test_cases=3)
    verdict = analyze(run, window=3).verdict
    assert verdict.code == "undecided"
    assert any("only 3 held-out test cases" in r for r in verdict.reasons)
