"""Finishing a run: the results file, the report, the baselines, and what is missing."""

from __future__ import annotations

import json
import time
from pathlib import Path

from promptsuite.config import PluginConfig, RunSettings
from promptsuite.gate import Baseline, baseline_path
from promptsuite.results import CaseResult, RepeatResult, load
from promptsuite.session import RunSession

SUITE = """\
prompt: {user: "{{ q }}"}
models: [{provider: scripted, label: bot}]
cases:
  - {id: kept, vars: {q: a}, expect: [{type: contains, value: a}]}
"""


def result(case_id: str, suite_path: str) -> CaseResult:
    return CaseResult(
        test_id=f"{suite_path}::{case_id}[bot]",
        suite="s",
        suite_path=suite_path,
        case_id=case_id,
        model="bot",
        backend={"provider": "scripted"},
        variant="default",
        tags=[],
        messages=[{"role": "user", "content": "a"}],
        repeats=[RepeatResult(0, "a", None, [], True, 1.0)],
        passed=True,
        score=1.0,
    )


def config(tmp_path: Path, **options: object) -> PluginConfig:
    return PluginConfig(
        settings=RunSettings(cache_path=tmp_path / "cache.sqlite"),
        models=(),
        results_dir=tmp_path / "reports",
        **options,  # type: ignore[arg-type]
    )


def finish(tmp_path: Path, cases: list[CaseResult], **options: object):  # type: ignore[no-untyped-def]
    session = RunSession(RunSettings(cache_path=tmp_path / "cache.sqlite"))
    try:
        return session.finish(
            cases, [], config(tmp_path, **options), root=tmp_path, started=time.time()
        )
    finally:
        session.close()


def test_finish_writes_the_results_and_names_suites_without_a_baseline(tmp_path: Path) -> None:
    finished = finish(tmp_path, [result("kept", "suites/s.yaml")])
    assert finished.results_path == tmp_path / "reports" / "latest.json"
    [timestamped] = (tmp_path / "reports" / "runs").glob("results-*.json")
    assert load(finished.results_path).to_dict() == json.loads(timestamped.read_text())
    assert finished.run.metadata["gates"] == []
    assert finished.missing_baselines == ("suites/s.yaml",)
    assert finished.report_path is None and finished.baselines_written == ()


def test_finish_records_baselines_pruning_cases_that_left_the_suite(tmp_path: Path) -> None:
    suite = tmp_path / "suites" / "s.yaml"
    suite.parent.mkdir()
    suite.write_text(SUITE, encoding="utf-8")
    finish(tmp_path, [result("gone", "suites/s.yaml")], update_baseline=True)
    finished = finish(tmp_path, [result("kept", "suites/s.yaml")], update_baseline=True)
    assert finished.baselines_written == (baseline_path(suite),)
    recorded = Baseline.load(baseline_path(suite))
    assert recorded is not None and list(recorded.entries) == ["kept[bot|default]"]
    assert finished.missing_baselines == ()


def test_a_report_that_cannot_be_written_costs_only_a_warning(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the report's folder should be", encoding="utf-8")
    finished = finish(tmp_path, [result("kept", "suites/s.yaml")], report=blocked / "latest.html")
    assert finished.report_problem is not None
    assert finished.report_problem.startswith("no HTML report written:")
    assert finished.results_path.is_file()
