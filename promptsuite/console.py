"""What a run prints: the end-of-run summary and a failing case's explanation.

Pure functions from results to text, so the pytest plugin only writes the lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from promptsuite._format import ms, num, pct, signed, usd
from promptsuite.gate import GateResult
from promptsuite.prices import Price, price_for
from promptsuite.results import (
    CaseResult,
    CheckResult,
    RepeatResult,
    call_counts,
    spent_usd,
    summarize,
    transcript_line,
)

PytestOutcome = Literal["passed", "failed", "xfailed", "error"]
"""How pytest reports a case: a pass, a failure, a known failure (xfail) or an error."""

SUMMARY_HEADERS = (
    "suite",
    "model",
    "prompt",
    "cases",
    "passed",
    "pass rate (95% CI)",
    "mean score",
    "flaky",
    "errors",
    "tokens",
    "mean latency",
)
GATE_HEADERS = (
    "suite",
    "model",
    "prompt",
    "gate",
    "cases",
    "mean diff",
    "95% CI",
    "flips -/+",
    "McNemar p",
    "cases needed",
)


@dataclass(frozen=True)
class Line:
    """One line of the summary; a warning is shown highlighted."""

    text: str
    warning: bool = False


@dataclass(frozen=True)
class RunSummary:
    """What the summary reports, beyond the cases themselves.

    Attributes:
        cases: Every case result of the run.
        gates: Every suite gate's result.
        results_path: The results file written, as shown to the user.
        report_path: The HTML report written, as shown, if any.
        report_problem: Why no report was written, if one was asked for and failed.
        baselines_written: Baselines written by ``--promptsuite-update-baseline``, as shown.
        missing_baselines: Suite files that ran without a baseline, as shown.
        prices: Per-model prices overriding :data:`promptsuite.prices.DEFAULT_PRICES`, for
            what the run's requests cost.
    """

    cases: Sequence[CaseResult]
    gates: Sequence[GateResult] = ()
    results_path: str | None = None
    report_path: str | None = None
    report_problem: str | None = None
    baselines_written: Sequence[str] = ()
    missing_baselines: Sequence[str] = ()
    prices: Mapping[str, Price] | None = None


def summary_lines(run: RunSummary) -> list[Line]:
    """The end-of-run summary: a table per suite x model x prompt, flaky cases, counts,
    baselines and the gate table."""
    from tabulate import tabulate

    table = summary_rows(run.cases)
    lines = [Line(tabulate(table, headers=SUMMARY_HEADERS, tablefmt="simple"))]
    flaky = sorted((c for c in run.cases if c.flaky), key=lambda c: c.test_id)
    if flaky:
        lines += [Line(""), Line(f"flaky cases ({len(flaky)}): repeats disagree")]
        lines += [Line(f"  {case.test_id}: {repeat_line(case)}") for case in flaky]
    tail = f"; results: {run.results_path}" if run.results_path else ""
    if run.report_path:
        tail += f"; report: {run.report_path}"
    spend = spend_text(run.cases, run.prices)
    lines.append(Line(f"{call_counts(run.cases).text()}{spend}{tail}"))
    if run.report_problem:
        lines.append(Line(run.report_problem, warning=True))
    lines += _baseline_lines(run)
    if run.gates:
        lines += [Line(""), Line(gate_table(run.gates))]
    lines += [Line(f"baseline written: {path}") for path in run.baselines_written]
    return lines


def spend_text(cases: Sequence[CaseResult], prices: Mapping[str, Price] | None) -> str:
    """``, est. cost: $0.0021`` for requests sent to a priced model; nothing when they
    cost nothing (the embedded model, the cache)."""
    spent = spent_usd(cases, prices)
    if spent is not None:
        return f", est. cost: {usd(spent)}" if spent else ""
    unpriced = sorted(
        {
            c.model
            for c in cases
            if any(not g.cached for g in c.generations)
            and price_for(c.model, c.backend, prices) is None
        }
    )
    return f", est. cost: unknown (no price for {', '.join(unpriced)})"


def summary_rows(cases: Iterable[CaseResult]) -> list[list[Any]]:
    """The summary table's rows (under :data:`SUMMARY_HEADERS`), one per suite x model x
    prompt."""
    return [
        [
            r.suite,
            r.model,
            r.variant,
            r.cases,
            r.passed,
            f"{pct(r.pass_rate)} ({pct(r.interval[0])}-{pct(r.interval[1])})",
            num(r.mean_score),
            r.flaky,
            r.errors,
            r.tokens,
            ms(r.mean_latency_s),
        ]
        for r in summarize(cases)
    ]


def _baseline_lines(run: RunSummary) -> list[Line]:
    lines = []
    statuses = Counter(c.baseline_status for c in run.cases if c.baseline_status)
    if statuses:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        lines.append(Line(f"against baselines: {counts}"))
        if statuses["improved"]:
            lines.append(
                Line("improved cases pass now; record them with --promptsuite-update-baseline")
            )
    for suite in run.missing_baselines:
        lines.append(
            Line(
                f"no baseline for {suite}: nothing is gated; record one with "
                "--promptsuite-update-baseline",
                warning=True,
            )
        )
    return lines


def gate_table(gates: Iterable[GateResult]) -> str:
    """The gate verdicts, one row per suite x model x prompt."""
    from tabulate import tabulate

    rows = gate_rows(gates)
    return tabulate(rows, headers=GATE_HEADERS, tablefmt="simple", disable_numparse=True)


def gate_rows(gates: Iterable[GateResult]) -> list[list[Any]]:
    """The gate table's rows (under :data:`GATE_HEADERS`), in suite x model order."""
    rows = []
    for g in sorted(gates, key=lambda g: (g.suite, g.model)):
        v = g.verdict
        rows.append(
            [
                g.suite,
                g.model,
                g.variant,
                v.decision,
                v.n_cases,
                signed(v.mean_diff),
                f"[{signed(v.ci_low)}, {signed(v.ci_high)}]",
                f"{v.pass_to_fail}/{v.fail_to_pass}",
                f"{v.p_value_mcnemar:.3g}",
                v.cases_needed if v.decision == "inconclusive" else "",
            ]
        )
    return rows


def case_outcome(result: CaseResult, *, update_baseline: bool = False) -> PytestOutcome:
    """How the pytest plugin reports a finished case, from its saved result.

    An error is an error; with no baseline (or a case new to it) a failing case fails; a
    regression fails; a failure the baseline recorded is a known failure (xfail), as is any
    failure while the baseline is being updated.
    """
    if result.error is not None:
        return "error"
    if result.passed:
        return "passed"
    if update_baseline or result.baseline_status == "known-failure":
        return "xfailed"
    return "failed"


def format_failure(result: CaseResult, note: str | None = None) -> str:
    """A failing case explained: the rendered messages, the output(s), each failed check."""
    checks = [c for r in result.repeats for c in r.checks]
    failed_count = sum(not c.passed for c in checks)
    lines = [note] if note else []
    lines.append(f"{failed_count} of {len(checks)} checks failed (score {result.score:.2f})")
    if len(result.repeats) > 1:
        lines.append(repeat_line(result))
    lines.append("messages:")
    for message in result.messages:
        lines.append(f"  [{message['role']}] " + _indent(message["content"]))
    for repeat in result.repeats:
        failed = [c for c in repeat.checks if not c.passed]
        if repeat.transcript is not None:
            lines.extend(_transcript_lines(repeat, failed, len(result.repeats) > 1))
        else:
            head = "output" if len(result.repeats) == 1 else f"output (repeat {repeat.index + 1})"
            lines.append(f"{head}:\n  " + _indent(repeat.output or "<empty>"))
        if failed:
            lines.append("failed checks:")
            lines.extend(f"  - {_turn_prefix(c.turn)}{c.name}: {c.reason}" for c in failed)
    return "\n".join(lines)


def _turn_prefix(turn: int | None) -> str:
    return f"turn {turn}: " if turn is not None else ""


def _transcript_lines(repeat: RepeatResult, failed: list[CheckResult], several: bool) -> list[str]:
    """A conversation up to its first failing turn (all of it when only its own checks
    failed, or it stopped on an error)."""
    turns = [c.turn for c in failed if c.turn is not None]
    last = min(turns) if turns and len(turns) == len(failed) else None
    head = "transcript" + (f" (repeat {repeat.index + 1})" if several else "")
    head += f", up to turn {last}, the first that failed:" if last is not None else ":"
    lines = [head]
    for entry in repeat.transcript or ():
        turn = entry.get("turn")
        if turn is None or (last is not None and turn > last):
            continue
        lines.append("  " + transcript_line(entry))
    return lines


def repeat_line(result: CaseResult) -> str:
    """How a case's repeats went: ``2/3 repeats passed (pass rate 67%, 95% CI ...)``."""
    low, high = result.interval
    verdict = "passes" if result.passed else "fails"
    rule = str(result.reducer)
    if result.min_pass_rate is not None:
        rule += f", min pass rate {pct(result.min_pass_rate)}"
    flaky = "flaky: " if result.flaky else ""
    return (
        f"{flaky}{result.passes}/{len(result.repeats)} repeats passed "
        f"(pass rate {pct(result.pass_rate)}, 95% CI {pct(low)}-{pct(high)}); "
        f"{verdict} under {rule}"
    )


def shown(path: Path, root: Path) -> str:
    """A path as the user would type it: relative to the root when it lies below it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")
