"""The run and report records: typed, round-tripped, and every older version read back."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from promptsuite.errors import ConfigError
from promptsuite.optimize import (
    DspySearch,
    ModelUsage,
    OptimizationReport,
    RepairedDemos,
    Verification,
    analyze,
    read_optimization_report,
    read_run,
)
from promptsuite.optimize._pipeline import save_run
from promptsuite.optimize.analysis import search_facts
from tests.unit.optimize.optimize_runs import make_run, nested

FIXTURES = Path(__file__).parent / "fixtures"


def saved(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def json_of(value: Any) -> Any:
    return json.loads(json.dumps(value))


def test_a_run_and_its_report_round_trip(tmp_path: Path) -> None:
    run = make_run(5, 12, nested([0.3, 0.5, 0.6, 0.6, 0.6], 12))
    run.optimizer_error = "ValueError: no"
    run.task_model_usage = ModelUsage(calls=60, cache_hits=2, tokens=900, errors=1)
    run.verification = Verification(model_calls=4, cache_hits=0, errors=0, variants=["default"])
    run.wall_s = 1.5
    save_run(run, tmp_path / "run.json")
    assert read_run(tmp_path / "run.json") == run
    report = OptimizationReport(run=run, analysis=analyze(run, window=3))
    path = tmp_path / "optimization.json"
    path.write_text(report.model_dump_json(), encoding="utf-8")
    again = read_optimization_report(tmp_path)
    assert again == report
    assert read_optimization_report(str(path)) == report  # a path given as a string
    assert read_run(str(tmp_path)) == run
    assert again.analysis.failures == report.analysis.failures  # a dataclass, read back typed


def test_a_version_1_run_is_read_typed() -> None:
    data = saved("run_v1.json")
    meta = data["metadata"]
    run = read_run(FIXTURES / "run_v1.json")
    assert (data["version"], run.version) == (1, 3)
    assert run.settings.variant == meta["variant"]
    assert list(run.settings.fractions) == meta["fractions"]
    assert run.settings.params.max_tokens == meta["params"]["max_tokens"]
    assert run.dspy == DspySearch(
        version=meta["dspy_version"],
        threads=meta["threads"],
        prompt_model_is_task_model=meta["prompt_model_is_task_model"],
    )
    usage = meta["task_model_usage"]
    assert run.task_model_usage == ModelUsage(
        calls=usage["calls"],
        cache_hits=usage["cache_hits"],
        tokens=usage["prompt_tokens"] + usage["completion_tokens"],
        errors=usage["errors"],
    )
    assert run.verification == Verification(**meta["verify"])
    assert (run.search_s, run.wall_s) == (meta["search_s"], meta["wall_s"])
    assert run.references is None and run.auto is None and run.applied is None
    # Version 1 did not record failed checks; its cases read with none.
    assert all(s.failed_checks == [] for c in run.candidates for s in c.cases)
    assert [c.val_score for c in run.candidates] == [c["val_score"] for c in data["candidates"]]
    assert sorted(run.test_results) == sorted(int(i) for i in data["test_results"])
    # Before racing every candidate was scored on every validation case, and says so.
    assert [c.val_cases for c in run.candidates] == [len(c["cases"]) for c in data["candidates"]]
    assert all(c.complete and c.stopped is None for c in run.candidates)
    assert run.stopped is None and not run.settings.racing and not run.settings.limits.any


def test_a_version_2_auto_search_joined_by_copro_is_read_typed() -> None:
    meta = saved("run_v2_joined.json")["metadata"]
    run = read_run(FIXTURES / "run_v2_joined.json")
    assert run.references is not None
    new = {"sampled": 0, "teacher": 0, "labelled": 0}  # added since, 0 in older runs
    assert run.references.model_dump() == {**meta["references"], **new}
    assert run.auto is not None
    assert run.auto.rules == meta["auto"]["rules"]
    assert run.auto.repaired == RepairedDemos(**meta["repaired_demos"])
    assert run.dspy is not None and run.dspy.prompt_model_is_task_model is False
    proposer = meta["prompt_model_usage"]
    assert run.prompt_model_usage.calls == proposer["calls"]
    assert (
        run.prompt_model_usage.tokens == proposer["prompt_tokens"] + proposer["completion_tokens"]
    )
    assert run.optimizer_error is None


def test_a_version_2_run_that_stopped_early_keeps_why() -> None:
    meta = saved("run_v2_stopped.json")["metadata"]
    run = read_run(FIXTURES / "run_v2_stopped.json")
    assert run.optimizer_error == meta["optimizer_error"]
    assert run.auto is None
    why = search_facts(run).why_empty
    assert f"the optimizer stopped early: {meta['optimizer_error']}" in why


def test_a_version_1_report_is_read_with_its_run_converted() -> None:
    data = saved("optimization_v1.json")
    report = read_optimization_report(FIXTURES / "optimization_v1.json")
    assert (data["version"], report.version) == (1, 2)
    assert report.run.applied == data["run"]["metadata"]["applied"]
    # Fields added since (the sampling stage's, racing's) read back as "none" from an older
    # report.
    assert json_of(asdict(report.analysis)) == newer(data["analysis"])
    assert report.export is not None
    no_samples = {"sampled": 0, "teacher": 0, "labelled": 0}
    assert json_of(asdict(report.export)) == {**data["export"], **no_samples}


def test_a_report_from_before_the_failure_summary_gets_one_from_its_run() -> None:
    data = saved("optimization_v1_run_v1.json")
    assert "failures" not in data["analysis"]
    report = read_optimization_report(FIXTURES / "optimization_v1_run_v1.json")
    best = report.analysis.best_index
    failing = [s.case_id for s in report.run.test_results[best] if not s.passed]
    assert report.analysis.failures.source == "test"
    assert list(report.analysis.failures.case_kinds) == failing
    rest = {k: v for k, v in json_of(asdict(report.analysis)).items() if k != "failures"}
    assert rest == newer(data["analysis"])


def newer(analysis: dict[str, Any]) -> dict[str, Any]:
    """An older report's analysis with the fields added since, as they read back."""
    unraced = {"val_cases": None, "stopped": None}
    trajectory = [{**point, **unraced} for point in analysis["trajectory"]]
    return {**analysis, "consistency": None, "trajectory": trajectory}


def test_what_is_not_a_record_is_one_line_naming_the_file(tmp_path: Path) -> None:
    results = tmp_path / "latest.json"
    results.write_text(json.dumps({"version": 1, "metadata": {}, "cases": []}), "utf-8")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json", "utf-8")
    newer = tmp_path / "run.json"
    newer.write_text(json.dumps({**saved("run_v2_stopped.json"), "version": 9}), "utf-8")
    cases = [
        (lambda: read_run(results), f"{results}: not an optimization run record (", "suite"),
        (lambda: read_run(garbage), f"{garbage}: not an optimization run record (", "JSON"),
        (lambda: read_run(newer), f"{newer}: not an optimization run record (", "version"),
        (lambda: read_run(tmp_path / "none.json"), "none.json: cannot read", "run.json"),
        (
            lambda: read_optimization_report(tmp_path),
            f"{tmp_path / 'optimization.json'}: cannot read an optimization report",
            "optimization.json",
        ),
        (
            lambda: read_optimization_report(FIXTURES / "run_v1.json"),
            "run_v1.json: not an optimization report (",
            "run",
        ),
    ]
    for read, start, mentions in cases:
        with pytest.raises(ConfigError) as caught:
            read()
        message = str(caught.value)
        assert start in message and mentions in message
        assert "\n" not in message
