"""The learning curve: fitted, solved for the target, and used by the advisor."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from promptsuite.commands._optimize import read_learning_curve
from promptsuite.errors import ConfigError
from promptsuite.optimize.analysis import LearningCurve, analyze, fit_learning_curve

FINETUNE_FIXTURES = Path(__file__).parents[1] / "finetune" / "fixtures"


def test_an_exact_log_curve_is_recovered_and_solved() -> None:
    points = [(n, 0.1 + 0.1 * math.log(n)) for n in (8, 16, 32)]
    curve = fit_learning_curve(points, target=0.5, train_share=0.4)
    assert curve.intercept == pytest.approx(0.1) and curve.slope == pytest.approx(0.1)
    assert curve.rows_needed == math.ceil(math.exp(4))  # 0.1 + 0.1 ln n = 0.5
    assert curve.predict(curve.rows_needed) >= 0.5
    # Past 20 times the rows measured the curve is not trusted: no estimate.
    assert fit_learning_curve(points, target=0.9, train_share=0.4).rows_needed is None


def test_the_estimate_counts_labelled_cases_at_the_train_share() -> None:
    points = [(10, 0.3), (20, 0.5), (40, 0.7)]
    curve = fit_learning_curve(points, target=0.9, train_share=0.4)
    # slope 0.2 / ln 2 per doubling: 0.9 is one more doubling away, 80 train rows.
    assert curve.rows_needed == 80
    assert curve.cases_needed == 200
    assert not curve.reached and "about 200 labelled cases" in curve.reason()
    assert LearningCurve.model_validate_json(curve.model_dump_json()) == curve


def test_a_flat_curve_gives_no_estimate_and_a_reached_one_needs_no_more() -> None:
    flat = fit_learning_curve([(10, 0.2), (20, 0.2), (40, 0.19)], target=0.8, train_share=0.4)
    assert flat.rows_needed is None and flat.cases_needed is None
    assert "does not rise" in flat.reason()
    reached = fit_learning_curve([(10, 0.5), (40, 0.85)], target=0.8, train_share=0.5)
    assert reached.reached and reached.rows_needed == 40 and reached.cases_needed == 80


def test_bad_points_are_refused() -> None:
    with pytest.raises(ValueError):
        fit_learning_curve([], target=0.8, train_share=0.4)
    with pytest.raises(ValueError):
        fit_learning_curve([(0, 0.1)], target=0.8, train_share=0.4)


def test_the_advisor_uses_a_measured_curve_instead_of_the_fixed_threshold() -> None:
    from tests.unit.optimize.optimize_runs import make_run, nested

    plateau = [0.30, 0.50, 0.60, 0.65, 0.65, 0.66, 0.65, 0.64, 0.66, 0.65, 0.65, 0.66]
    run = make_run(12, 40, nested(plateau, 40))
    assert analyze(run, window=4).verdict.code == "plateau-collect"  # 26 labels < 50
    few = fit_learning_curve([(5, 0.4), (10, 0.6), (20, 0.8)], target=0.85, train_share=1.0)
    assert few.cases_needed is not None and few.cases_needed < 26
    verdict = analyze(run, window=4, learning_curve=few).verdict
    assert verdict.code == "plateau-finetune"
    assert any("learning curve" in r and "labelled cases" in r for r in verdict.reasons)
    assert not any("advised from 50" in r for r in verdict.reasons)
    many = fit_learning_curve([(5, 0.1), (10, 0.15), (20, 0.2)], target=0.3, train_share=0.5)
    assert many.cases_needed is not None and many.cases_needed > 26
    verdict = analyze(run, window=4, learning_curve=many).verdict
    assert verdict.code == "plateau-collect"
    assert verdict.collect_more == many.cases_needed - 26


def test_optimize_reads_the_curve_of_a_finetune_record(tmp_path: Path) -> None:
    # A record as promptsuite finetune --curve wrote it before its parts were grouped.
    fixture = FINETUNE_FIXTURES / "finetune_v1.json"
    saved = json.loads(fixture.read_text(encoding="utf-8"))["curve"]
    curve = read_learning_curve(str(fixture))
    assert curve is not None
    assert [list(p) for p in curve.points] == saved["points"]
    assert (curve.cases_needed, curve.reached) == (saved["cases_needed"], saved["reached"])
    assert read_learning_curve(None) is None
    record = tmp_path / "finetune.json"
    record.write_text(json.dumps({"training": {}}))
    with pytest.raises(ConfigError, match=r"--finetune-record .*finetune\.json: not a fine-tune"):
        read_learning_curve(str(record))
    with pytest.raises(ConfigError, match="has no learning curve"):
        read_learning_curve(str(FINETUNE_FIXTURES / "finetune_v1_no_test.json"))
