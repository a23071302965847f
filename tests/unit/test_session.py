"""Finishing a run: the results file, the report, the baselines, and what is missing."""

from __future__ import annotations

import json
import time
from pathlib import Path

from promptsuite.config import PluginConfig, RunSettings
from promptsuite.gate import Baseline, BaselineEntry, baseline_path, entry_key
from promptsuite.results import CaseResult, RepeatResult, load
from promptsuite.session import RunSession, SuiteFiles

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


def finish(  # type: ignore[no-untyped-def]
    tmp_path: Path, cases: list[CaseResult], suites: SuiteFiles | None = None, **options: object
):
    session = RunSession(RunSettings(cache_path=tmp_path / "cache.sqlite"))
    try:
        return session.finish(
            cases,
            [],
            config(tmp_path, **options),
            root=tmp_path,
            started=time.time(),
            suites=suites,
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


def test_finish_uses_the_suite_files_as_collection_loaded_them(tmp_path: Path) -> None:
    # No suite file and no baseline on disk: the case ids and the old baseline come from
    # collection. "other" is still in the suite (kept), "gone" left it (pruned).
    old = Baseline(
        "s",
        {
            entry_key(r): BaselineEntry.from_result(r)
            for r in (result("other", "suites/s.yaml"), result("gone", "suites/s.yaml"))
        },
    )
    suites = SuiteFiles(
        case_ids={"suites/s.yaml": frozenset({"kept", "other"})},
        baselines={"suites/s.yaml": old},
    )
    cases = [result("kept", "suites/s.yaml")]
    finished = finish(tmp_path, cases, suites, update_baseline=True)
    target = tmp_path / "suites" / "__baselines__" / "s.json"
    assert finished.baselines_written == (target,)
    recorded = Baseline.load(target)
    assert recorded is not None
    assert sorted(recorded.entries) == ["kept[bot|default]", "other[bot|default]"]
    assert finished.baselines == {"s": old}  # what the run was compared with, for its summary

    target.unlink()  # a baseline held from collection counts, whatever is on disk now
    warned = finish(tmp_path, cases, suites)
    assert warned.missing_baselines == () and warned.baselines == {"s": old}
    none_held = SuiteFiles(case_ids=suites.case_ids, baselines={"suites/s.yaml": None})
    assert finish(tmp_path, cases, none_held).missing_baselines == ("suites/s.yaml",)


def test_suite_files_read_from_disk_give_the_same_as_collection(tmp_path: Path) -> None:
    suite = tmp_path / "suites" / "s.yaml"
    suite.parent.mkdir()
    suite.write_text(SUITE, encoding="utf-8")
    recorded = Baseline("s", {"kept[bot|default]": BaselineEntry.from_result(result("kept", "x"))})
    recorded.write(baseline_path(suite))
    read = SuiteFiles.read(tmp_path, ["suites/s.yaml", "suites/s.yaml"], case_ids=True)
    assert read.case_ids == {"suites/s.yaml": frozenset({"kept"})}
    assert read.baselines == {"suites/s.yaml": recorded}
    assert SuiteFiles.read(tmp_path, ["suites/s.yaml"], case_ids=False).case_ids == {}
    assert SuiteFiles.read(tmp_path, ["suites/t.yaml"], case_ids=False).baselines == {
        "suites/t.yaml": None
    }
