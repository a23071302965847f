"""The Markdown verdict: what a reviewer sees in a pull request comment or on the job page."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from promptsuite.cli import main
from promptsuite.console import gate_rows, summary_rows
from promptsuite.gate import Baseline, BaselineEntry, baseline_path, entry_key, gate
from promptsuite.markdown import MARKER, markdown_summary, write_step_summary
from promptsuite.results import CaseResult, CheckResult, GenerationRecord, RepeatResult, RunResults


def case(
    case_id: str,
    passes: list[bool],
    *,
    output: str = "a reply",
    status: str | None = None,
    model: str = "bot",
    provider: str = "scripted",
    reason: str = "expected output to contain 'x'",
) -> CaseResult:
    repeats = [
        RepeatResult(
            index,
            output,
            GenerationRecord(prompt_tokens=1000, completion_tokens=500, latency_s=0.25),
            [CheckResult("contains", ok, float(ok), reason, 1.0, "m")],
            ok,
            float(ok),
        )
        for index, ok in enumerate(passes)
    ]
    return CaseResult(
        test_id=f"suites/s.yaml::{case_id}[{model}]",
        suite="s",
        suite_path="suites/s.yaml",
        case_id=case_id,
        model=model,
        backend={"provider": provider, "model": model},
        variant="default",
        tags=[],
        messages=[{"role": "user", "content": "hi"}],
        repeats=repeats,
        passed=all(passes),
        score=min(float(p) for p in passes),
        baseline_status=status,  # type: ignore[arg-type]
    )


def run_of(cases: list[CaseResult], **metadata: object) -> RunResults:
    return RunResults(cases=cases, metadata=dict(metadata))


def test_a_clean_run_says_so_with_the_same_tables_as_the_terminal() -> None:
    cases = [case("a", [True], status="pass"), case("b", [False], status="known-failure")]
    baseline = Baseline("s", {entry_key(c): BaselineEntry.from_result(c) for c in cases})
    verdict = gate(baseline, cases)
    text = markdown_summary(run_of(cases, gates=[verdict.to_dict()]))
    lines = text.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "## ✅ promptsuite: no regressions"
    assert "**2 cases**: 1 passed, 1 known failure; **gates**: 1 pass" in lines
    # The figures are the terminal's, in GitHub table syntax.
    [row] = summary_rows(cases)
    assert "| " + " | ".join(str(v) for v in row) + " | $0.00 |" in lines
    [gate_row] = gate_rows([verdict])
    assert "| " + " | ".join(str(v) for v in gate_row) + " |" in lines
    assert "Regressions" not in text and "Failing cases" not in text


def test_a_regression_shows_before_and_after_and_the_failed_checks() -> None:
    before = case("refund", [True], output="Sorry! Please send your order number.")
    now = case("refund", [False], output="I cannot help.", status="regression")
    baseline = Baseline("s", {entry_key(before): BaselineEntry.from_result(before)})
    verdict = gate(baseline, [now])
    text = markdown_summary(run_of([now], gates=[verdict.to_dict()]), baselines={"s": baseline})
    assert text.splitlines()[1] == "## ❌ promptsuite: 1 regression, 1 failing gate"
    section = text[text.index("### Regressions (1)") :]
    assert "<code>suites/s.yaml::refund[bot]</code>: score 1.00 → 0.00" in section
    assert (
        "**before** (baseline):\n\n```text\nSorry! Please send your order number.\n```" in section
    )
    assert "**after**:\n\n```text\nI cannot help.\n```" in section
    assert "- `contains (m)`: `expected output to contain 'x'`" in section
    assert "| s | bot | default | fail |" in text  # the gate table
    assert "### Gate failures (1)\n\n- `s [bot, default]`: fail: regression, mean score" in text


def test_failures_errors_flaky_cases_and_cost_are_listed() -> None:
    failing = case("new-one", [False])
    errored = replace(
        case("broke", [False]), error="HTTP 503 after 4 retries", error_kind="TransportError"
    )
    flaky = case("wobbly", [True, False, True], status="pass")
    paid = case("paid", [True], model="gpt-4o-mini", provider="openai")
    text = markdown_summary(run_of([failing, errored, flaky, paid]))
    assert text.splitlines()[1] == "## ❌ promptsuite: 2 failing cases, 1 error"
    assert "### Failing cases (2)" in text and "suites/s.yaml::new-one[bot]" in text
    assert "- `suites/s.yaml::broke[bot]`: `TransportError: HTTP 503 after 4 retries`" in text
    assert "### Flaky cases (1)" in text and "flaky: 2/3 repeats passed" in text
    # gpt-4o-mini at $0.15 / $0.60 per million: 1000 prompt + 500 completion tokens.
    assert "| $0.00045 |" in text
    assert "**4 cases**: 1 passed, 2 failed, 1 error" in text
    assert "model calls: 6, cache hits: 0, tokens: 9,000, est. cost: $0.00045" in text


def test_model_output_cannot_mention_people_close_fences_or_inject_html() -> None:
    hostile = "@octocat see #1 <script>alert(1)</script>\n```\n# not a heading | cell"
    now = case("x|y", [False], output=hostile, reason=f"got {hostile!r} with `ticks`")
    text = markdown_summary(run_of([now]))
    block = re.search(r"(`{4,})text\n(.*?)\n\1", text, re.S)
    assert block is not None and block[2] == hostile  # a fence longer than any inside
    # Outside code, nothing of the output is left: no mention, no tag, no heading.
    reason_line = next(line for line in text.splitlines() if line.startswith("- `contains"))
    span = re.fullmatch(r"- `contains \(m\)`: (`+) (.*) \1", reason_line)
    assert span is not None and "`" * len(span[1]) not in span[2]
    prose = text.replace(block[0], "").replace(reason_line, "")
    assert "@octocat" not in prose and "<script>" not in prose and "# not" not in prose
    assert "<code>suites/s.yaml::x|y[bot]</code>" in text


def test_a_large_run_is_cut_to_the_limit_keeping_the_verdict() -> None:
    cases = [
        case(f"c{i:04}", [False], output="word " * 300, status="regression") for i in range(400)
    ]
    text = markdown_summary(run_of(cases), limit=20_000)
    assert len(text) <= 20_000
    assert text.splitlines()[1] == "## ❌ promptsuite: 400 regressions"
    shown = text.count("<details>")
    assert 0 < shown < 400
    assert f"… and {400 - shown} more (see the HTML report)" in text
    assert text.rstrip().endswith("tokens: 600,000")  # the footer survives the cut


def test_a_shard_says_its_gates_come_from_the_merge() -> None:
    text = markdown_summary(run_of([case("a", [True])], shard={"index": 2, "count": 3}))
    assert "> Shard 2/3 of a split run: its gates are computed over every shard by" in text


def test_the_step_summary_is_appended_only_when_github_asks(tmp_path: Path) -> None:
    run = run_of([case("a", [True])])
    target = tmp_path / "step-summary.md"
    target.write_text("earlier step\n")
    assert write_step_summary(run, environ={}) is None
    assert target.read_text() == "earlier step\n"
    env = {"GITHUB_STEP_SUMMARY": str(target)}
    assert write_step_summary(run, environ=env, results_path="r.json") is None
    written = target.read_text()
    assert written.startswith("earlier step\n" + MARKER) and "results: `r.json`" in written
    problem = write_step_summary(run, environ={"GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "dir")})
    assert problem is not None and problem.startswith("GITHUB_STEP_SUMMARY not written:")


def test_the_step_summary_uses_the_gates_and_baselines_the_run_holds(tmp_path: Path) -> None:
    # Nothing on disk and no gates in the metadata: what is shown comes from the arguments.
    before = case("refund", [True], output="Sorry! Please send your order number.")
    now = case("refund", [False], output="I cannot help.", status="regression")
    baseline = Baseline("s", {entry_key(before): BaselineEntry.from_result(before)})
    verdict = gate(baseline, [now])
    target = tmp_path / "step-summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(target)}
    run = run_of([now])
    assert write_step_summary(run, gates=[verdict], baselines={"s": baseline}, environ=env) is None
    written = target.read_text()
    assert "**before** (baseline):\n\n```text\nSorry! Please send your order number." in written
    assert "### Gate failures (1)" in written and "**gates**: 1 fail" in written
    assert markdown_summary(run, gates=[verdict], baselines={"s": baseline}) + "\n" == written
    assert "Gate failures" not in markdown_summary(run)  # the metadata recorded no gate


def test_the_summary_command_reads_a_results_file_and_its_baselines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = case("refund", [True], output="Sorry! Please send your order number.")
    now = case("refund", [False], output="I cannot help.", status="regression")
    (tmp_path / "suites").mkdir()
    Baseline("s", {entry_key(before): BaselineEntry.from_result(before)}).write(
        baseline_path(tmp_path / "suites" / "s.yaml")
    )
    results = run_of([now]).write(tmp_path / "reports" / "latest.json")
    assert main(["summary", str(results), "--format", "markdown", "--root", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(MARKER) and "Sorry! Please send your order number." in text
    assert f"results: `{results}`" in text
    args = ["summary", str(results), "--format", "markdown", "--no-baseline", "--max-chars", "2000"]
    assert main([*args, "--root", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Sorry!" not in text and "score — → 0.00" in text and len(text) <= 2001
    assert main(["summary", str(results)]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:3] == ["suite", "model", "prompt"]
