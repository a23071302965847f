"""The suite gate: results paired with the baseline, a typed verdict, its failure policy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from promptsuite.gate import (
    Baseline,
    BaselineEntry,
    GateResult,
    baseline_entry,
    baseline_path,
    entry_key,
    gate,
    load_baselines,
    recorded_gates,
    sorted_gates,
)
from promptsuite.results import CaseResult, RepeatResult, RunResults


def result(case_id: str, score: float, *, error: str | None = None) -> CaseResult:
    repeat = RepeatResult(0, "out", None, [], score >= 0.5, score, error)
    return CaseResult(
        test_id=f"suites/s.yaml::{case_id}[bot]",
        suite="s",
        suite_path="suites/s.yaml",
        case_id=case_id,
        model="bot",
        backend={"provider": "scripted"},
        variant="default",
        tags=[],
        messages=[{"role": "user", "content": case_id}],
        repeats=[repeat],
        passed=score >= 0.5 and error is None,
        score=score,
        error=error,
    )


def baseline_of(results: list[CaseResult]) -> Baseline:
    return Baseline("s", {entry_key(r): BaselineEntry.from_result(r) for r in results})


def test_pairs_only_cases_in_both_and_leaves_errors_out() -> None:
    before = baseline_of([result(f"c{i}", 1.0) for i in range(20)])
    now = [result(f"c{i}", 1.0) for i in range(18)]
    now += [result("c18", 0.0, error="TransportError"), result("new", 0.0)]
    outcome = gate(before, now)
    assert (outcome.suite, outcome.model, outcome.variant) == ("s", "bot", "default")
    assert outcome.verdict.n_cases == 18
    assert outcome.verdict.decision == "pass"
    assert outcome.failure() is None


def test_a_regression_fails_and_an_inconclusive_gate_follows_the_policy() -> None:
    before = baseline_of([result(f"c{i}", 1.0) for i in range(20)])
    regressed = gate(before, [result(f"c{i}", 0.0 if i < 10 else 1.0) for i in range(20)])
    assert regressed.verdict.decision == "fail"
    assert regressed.failure() == f"suite gate: {regressed.verdict.reason}"
    # Half the cases lose 0.1, half nothing: a mean drop of the margin itself, with spread.
    unsure = gate(before, [result(f"c{i}", 0.9 if i % 2 else 1.0) for i in range(20)])
    assert unsure.verdict.decision == "inconclusive"
    assert unsure.failure("pass") is None
    assert unsure.failure("fail") is not None


def test_the_results_file_form_round_trips() -> None:
    outcome = gate(baseline_of([result("c0", 1.0)]), [result("c0", 1.0)])
    data = outcome.to_dict()
    assert data["suite"] == "s" and data["verdict"] == outcome.verdict.decision
    assert GateResult.from_dict(data) == outcome


def test_a_gate_needs_results() -> None:
    with pytest.raises(ValueError, match="at least one case"):
        gate(Baseline("s"), [])


def test_gates_in_the_results_files_order_and_read_back_from_one() -> None:
    one = gate(baseline_of([result("c0", 1.0)]), [result("c0", 1.0)])
    gates = [replace(one, model="b", variant="v"), replace(one, model="a", variant="w")]
    gates.append(replace(one, model="a", variant="v"))
    ordered = sorted_gates(gates)
    assert [(g.model, g.variant) for g in ordered] == [("a", "v"), ("a", "w"), ("b", "v")]
    run = RunResults(cases=[], metadata={"gates": [g.to_dict() for g in ordered]})
    assert recorded_gates(run) == ordered
    assert recorded_gates(RunResults(cases=[], metadata={})) == []


def test_a_suite_path_of_the_results_finds_its_baseline_and_entries(tmp_path: Path) -> None:
    assert baseline_path("suites/s.yaml", tmp_path) == tmp_path / "suites/__baselines__/s.json"
    assert baseline_path(tmp_path / "x" / "s.yaml", Path("elsewhere")).parent.parent == (
        tmp_path / "x"
    )
    recorded = baseline_of([result("c0", 1.0)])
    recorded.write(baseline_path("suites/s.yaml", tmp_path))
    found = load_baselines(RunResults(cases=[result("c0", 0.0)], metadata={}), None, tmp_path)
    assert found == {"s": recorded}
    assert baseline_entry(found, result("c0", 0.0)) == recorded.entries["c0[bot|default]"]
    assert baseline_entry(found, result("new", 0.0)) is None
    assert baseline_entry({}, result("c0", 0.0)) is None
