"""``promptsuite optimize`` on the embedded model, offline, with a tiny budget.

The search's validation scores must be the runner's: the baseline candidate's per-case
results are compared with a plain runner run of the same variant on the same cases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptsuite.config import RunSettings
from promptsuite.optimize import read_optimization_report, read_run
from promptsuite.results import CaseResult
from promptsuite.runner import Runner, plan_jobs
from promptsuite.suite import load_prompt, load_suite

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("embedded_model")]

ROOT = Path(__file__).resolve().parents[2]


def test_banking77_search_on_the_embedded_model_offline(tmp_path):
    for folder in ("suites", "prompts"):
        (tmp_path / folder).mkdir()
    shutil.copy(ROOT / "suites" / "banking77_intents.yaml", tmp_path / "suites")
    shutil.copy(ROOT / "prompts" / "banking77_intents.yaml", tmp_path / "prompts")
    (tmp_path / "data" / "banking77").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "banking77" / "cases.csv", tmp_path / "data" / "banking77")
    attempts = tmp_path / "attempts.txt"
    env = dict(os.environ)
    env.pop("LITELLM_LOCAL_MODEL_COST_MAP", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(ROOT / "tests" / "offline_guard.py"),
        str(attempts),
        "optimize",
        "suites/banking77_intents.yaml",
        "--optimizer",
        "bootstrap",
        "--budget",
        "1",
        "--max-demos",
        "2",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert attempts.read_text(encoding="utf-8") == ""
    [run_file] = (tmp_path / "reports" / "optimize").glob("banking77_intents-*/run.json")
    run = read_run(run_file)
    assert len(run.candidates) >= 2
    assert run.candidates[0].source == "baseline"
    assert run.candidates[1].source == "bootstrap" and run.candidates[1].demos
    assert run.task_model_usage.calls > 0
    assert len(run.test_results[0]) == sum(1 for s in run.split.values() if s == "test")
    load_prompt(tmp_path / "prompts" / "banking77_intents.yaml")  # still loads

    # The search scored the baseline exactly as the runner does (here from the cache).
    suite = load_suite(tmp_path / "suites" / "banking77_intents.yaml")
    val_cases = tuple(c for c in suite.cases if run.split[c.id] == "val")
    baseline_name = run.settings.variant
    val_suite = dataclasses.replace(suite, cases=val_cases, variants=(baseline_name,))
    runner = Runner(RunSettings(cache_path=tmp_path / ".promptsuite" / "cache.sqlite"))

    async def run_val() -> list[CaseResult]:
        try:
            return await runner.run_jobs(plan_jobs(val_suite))
        finally:
            await runner.aclose()

    results = asyncio.run(run_val())
    assert runner.stats.model_calls == 0
    by_case = {r.case_id: (r.score, r.repeats[0].output) for r in results}
    searched = {c.case_id: (c.score, c.output) for c in run.candidates[0].cases}
    assert searched == by_case


def test_the_default_search_fixes_a_prompt_fixable_suite_offline(tmp_path):
    """The known-answer order-number suite: the model finds the number but wraps it in a
    sentence; ``promptsuite optimize`` with no flags must fix it and say so, offline."""
    for folder in ("suites", "prompts"):
        (tmp_path / folder).mkdir()
        shutil.copy(
            ROOT / "benchmarks" / "known_answer" / folder / "order_number.yaml", tmp_path / folder
        )
    attempts = tmp_path / "attempts.txt"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(ROOT / "tests" / "offline_guard.py"),
        str(attempts),
        "optimize",
        "suites/order_number.yaml",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    assert attempts.read_text(encoding="utf-8") == ""
    assert "references: 16 of 16 train cases (16 derived from their checks)" in result.stderr
    [report] = (tmp_path / "reports" / "optimize").glob("order_number-*/optimization.json")
    saved = read_optimization_report(report)
    final = saved.analysis.final
    assert final.source == "test"
    assert final.baseline_score < 0.5 <= 0.8 <= final.best_score
    assert saved.analysis.verdict.code == "target-reached"
    run = saved.run
    # Racing: the search stops once validation clearly reached the target (2 candidates
    # in the known-answer benchmark, where the full budget is 9).
    assert run.optimizer == "auto" and 2 <= len(run.candidates) < 9
    assert run.stopped is not None and run.stopped.reason == "target"
    assert run.dspy is None  # the auto search needs no DSPy


def test_an_open_ended_suite_gets_sampled_references_and_a_decided_verdict(tmp_path):
    """A style task with free-text replies and no derivable reference: the sampling stage
    gives its train cases references from the model's own passing replies, the search shows
    them as demos, and the advice decides with the consistency figures."""
    known = ROOT / "benchmarks" / "known_answer"
    for folder in ("suites", "prompts"):
        (tmp_path / folder).mkdir()
        shutil.copy(known / folder / "polite_reply.yaml", tmp_path / folder)
    suite_file = tmp_path / "suites" / "polite_reply.yaml"
    # Two cases of each intent: 16 cases, 6 of them train.
    text = suite_file.read_text(encoding="utf-8")
    head, _, body = text.partition("cases:\n")
    blocks = ["  - id:" + b for b in body.split("  - id:")[1:]]
    kept: dict[str, list[str]] = {}
    for block in blocks:
        intent = block.split("tags: [", 1)[1].split("]", 1)[0]
        kept.setdefault(intent, []).append(block)
    suite_file.write_text(
        head + "cases:\n" + "".join(b for bs in kept.values() for b in bs[:2]), encoding="utf-8"
    )
    command = [
        sys.executable,
        "-m",
        "promptsuite.cli",
        "optimize",
        "suites/polite_reply.yaml",
        "--budget",
        "2",
        "--samples",
        "2",
        "--no-write",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    assert "sampling: 6 train cases have no reference answer" in result.stderr
    [report_file] = (tmp_path / "reports" / "optimize").glob("polite_reply-*/optimization.json")
    report = read_optimization_report(report_file)
    run, analysis = report.run, report.analysis
    assert run.sampling is not None
    train = {c for c, s in run.split.items() if s == "train"}
    assert {c.case_id for c in run.sampling.cases} == train
    assert run.sampling.usage.calls == len(train) * (1 + 2)
    kept_refs = run.sampling.references()
    assert kept_refs, "the model never produced a passing reply: the suite is mis-built"
    assert run.references is not None and run.references.sampled == len(kept_refs)
    assert any(d.output in kept_refs.values() for c in run.candidates for d in c.demos)
    assert analysis.consistency is not None and analysis.consistency.overall.cases == len(train)
    assert analysis.verdict.code != "undecided" or "labelled examples" not in (
        analysis.verdict.headline
    )
    assert report.export is not None and report.export.sampled == len(kept_refs)
