"""What a run prints: the summary lines and a failing case's explanation, as plain text."""

from __future__ import annotations

from dataclasses import replace

from promptsuite.console import (
    RunSummary,
    case_outcome,
    format_failure,
    repeat_line,
    summary_lines,
)
from promptsuite.gate import Baseline, BaselineEntry, entry_key, gate
from promptsuite.results import CaseResult, CheckResult, GenerationRecord, RepeatResult


def case(case_id: str, passes: list[bool], *, cached: bool = False) -> CaseResult:
    repeats = [
        RepeatResult(
            index,
            f"reply {index}\nsecond line",
            GenerationRecord(prompt_tokens=10, completion_tokens=5, latency_s=0.25, cached=cached),
            [CheckResult("contains", ok, float(ok), "expected output to contain 'x'", 1.0, "m")],
            ok,
            float(ok),
        )
        for index, ok in enumerate(passes)
    ]
    return CaseResult(
        test_id=f"suites/s.yaml::{case_id}[bot]",
        suite="s",
        suite_path="suites/s.yaml",
        case_id=case_id,
        model="bot",
        backend={"provider": "scripted"},
        variant="default",
        tags=[],
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        repeats=repeats,
        passed=all(passes),
        score=min(float(p) for p in passes),
    )


def texts(run: RunSummary) -> list[str]:
    return [line.text for line in summary_lines(run)]


def test_the_summary_has_the_table_flaky_cases_counts_and_paths() -> None:
    cases = [case("a", [True]), case("b", [True, False, True], cached=True)]
    lines = texts(RunSummary(cases, results_path="reports/latest.json", report_path="r.html"))
    table = lines[0].splitlines()
    assert table[0].split()[:3] == ["suite", "model", "prompt"]
    assert "s" in table[2] and "50% (9%-91%)" in table[2] and "250 ms" in table[2]
    assert "flaky cases (1): repeats disagree" in lines
    assert any(
        line.startswith("  suites/s.yaml::b[bot]: flaky: 2/3 repeats passed") for line in lines
    )
    assert "model calls: 1, cache hits: 3; results: reports/latest.json; report: r.html" in lines


def test_failed_requests_and_what_they_cost_are_in_the_counts() -> None:
    # A conversation that errored on its third request after two answers and two failed
    # attempts, on a priced model; and a reply that came after one retried request.
    errored = replace(
        case("a", [False]),
        model="mini",
        backend={"provider": "openai", "model": "in-house-model"},
        error="HTTP 503 after 3 attempt(s)",
        repeats=[
            RepeatResult(
                0,
                "",
                GenerationRecord(100, 20, 1.0, calls=2, cache_hits=0, failed=3, retried=2),
                [],
                False,
                0.0,
                error="HTTP 503 after 3 attempt(s)",
            )
        ],
    )
    retried = replace(
        case("b", [True]),
        repeats=[
            RepeatResult(0, "ok", GenerationRecord(10, 5, 0.2, failed=1, retried=1), [], True, 1.0)
        ],
    )
    prices = {"mini": (1.0, 2.0)}
    lines = texts(RunSummary([errored, retried], prices=prices))
    # 2 + 3 requests of the conversation, 1 + 1 of the reply; the cost is the answers' tokens.
    assert (
        "model calls: 7 (3 answered, 4 failed, 3 of them retried), cache hits: 0, "
        "est. cost: $0.00014"
    ) in lines
    assert summary_lines(RunSummary([errored]))[-1].text.endswith(
        "est. cost: unknown (no price for mini)"
    )


def test_baseline_statuses_missing_baselines_and_problems_are_reported() -> None:
    improved = replace(case("a", [True]), baseline_status="improved")
    run = RunSummary(
        [improved], report_problem="no HTML report written: disk full", missing_baselines=["x.yaml"]
    )
    lines = summary_lines(run)
    warnings = [line.text for line in lines if line.warning]
    assert warnings == [
        "no HTML report written: disk full",
        "no baseline for x.yaml: nothing is gated; record one with --promptsuite-update-baseline",
    ]
    assert "against baselines: 1 improved" in [line.text for line in lines]


def test_the_gate_table_follows_the_summary() -> None:
    current = case("a", [True])
    baseline = Baseline("s", {entry_key(current): BaselineEntry.from_result(current)})
    lines = texts(RunSummary([current], gates=[gate(baseline, [current])]))
    gate_lines = lines[-1].splitlines()
    assert gate_lines[0].split()[:4] == ["suite", "model", "prompt", "gate"]
    assert gate_lines[2].split()[:5] == ["s", "bot", "default", "pass", "1"]


def test_a_failure_shows_messages_outputs_and_each_failed_check() -> None:
    text = format_failure(case("b", [True, False]), "REGRESSION: passed in the baseline")
    lines = text.splitlines()
    assert lines[0] == "REGRESSION: passed in the baseline"
    assert lines[1] == "1 of 2 checks failed (score 0.00)"
    assert lines[2] == repeat_line(case("b", [True, False]))
    assert "  [system] Be brief." in lines
    assert "output (repeat 2):" in lines and "    second line" in lines
    assert lines[-1] == "  - contains (m): expected output to contain 'x'"


def test_a_saved_case_is_reported_as_pytest_reported_it() -> None:
    passed, failed = case("a", [True]), case("b", [False])
    assert case_outcome(passed) == "passed"
    assert case_outcome(failed) == "failed"  # no baseline: a failure fails
    assert case_outcome(replace(failed, baseline_status="regression")) == "failed"
    assert case_outcome(replace(failed, baseline_status="new")) == "failed"
    assert case_outcome(replace(failed, baseline_status="known-failure")) == "xfailed"
    assert case_outcome(failed, update_baseline=True) == "xfailed"
    assert case_outcome(replace(passed, baseline_status="improved")) == "passed"
    errored = replace(failed, error="boom", error_kind="TransportError")
    assert case_outcome(errored, update_baseline=True) == "error"
