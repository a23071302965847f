"""What a run prints: the end-of-run summary and a failing case's explanation.

Pure functions from results to text, so the pytest plugin only writes the lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

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

if TYPE_CHECKING:
    from promptsuite.labels import CalibrationReport

PytestOutcome = Literal["passed", "failed", "xfailed", "error", "uncalibrated"]
"""How pytest reports a case: a pass, a failure, a known failure (xfail), an error, or a
verdict withheld because it rests on a judge people have not calibrated (a skip)."""

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
JUDGE_HEADERS = (
    "judge",
    "labels",
    "agreement",
    "kappa (95% CI)",
    "bias (McNemar p)",
    "too lenient/strict",
    "trusted",
    "labels for the width",
)
#: Lines of labels that could not be applied shown before the rest are counted.
PROBLEM_LINES = 10


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
        calibration: The judges measured against people's labels, when the run did.
        judge_calibration: The run's ``judge-calibration`` option.
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
    calibration: CalibrationReport | None = None
    judge_calibration: str = "off"
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
    if run.calibration is not None:
        lines += calibration_lines(run)
    lines += [Line(f"baseline written: {path}") for path in run.baselines_written]
    return lines


def calibration_lines(run: RunSummary) -> list[Line]:
    """The judges against people's labels: a table, why each is trusted or not, the labels
    that could not be applied, and the verdicts that rest on an untrusted judge."""
    from tabulate import tabulate

    report = run.calibration
    assert report is not None
    lines = [
        Line(""),
        Line(
            f"judges against people's labels (trusted: kappa's {report.confidence:.0%} CI lower"
            f" bound >= {report.threshold:g} on at least {report.min_labels} labels; labels"
            f" for a CI {report.width:g} wide):"
        ),
    ]
    if report.judges:
        rows = judge_rows(report)
        lines.append(Line(tabulate(rows, JUDGE_HEADERS, tablefmt="simple", disable_numparse=True)))
    else:
        lines.append(Line("no model-graded check ran"))
    lines += [Line(f"  {j.judge}: {j.reason}", warning=not j.trusted) for j in report.judges]
    if report.problems:
        lines.append(Line(f"labels not applied ({len(report.problems)}):", warning=True))
        lines += [Line(f"  {p}", warning=True) for p in report.problems[:PROBLEM_LINES]]
        if len(report.problems) > PROBLEM_LINES:
            left = len(report.problems) - PROBLEM_LINES
            lines.append(Line(f"  ... and {left} more (promptsuite calibrate lists them)"))
    if report.unlabelled:
        where = f" {run.results_path}" if run.results_path else ""
        lines.append(
            Line(f"{report.unlabelled} judged outputs have no label: promptsuite review{where}")
        )
    resting = resting_verdicts(run.cases, run.gates, report, run.judge_calibration)
    if resting:
        cases, gates = resting
        verdicts = f"{counted(cases, 'case verdict')} and {counted(gates, 'gate verdict')}"
        if run.judge_calibration == "require":
            text = f"uncalibrated: {verdicts} rest on judges that are not trusted"
            text += " (reported neither pass nor fail)"
        else:
            text = f"{verdicts} rest on judges that are not trusted"
            text += " (judge-calibration: require would withhold them)"
        lines.append(Line(text, warning=True))
    return lines


def counted(n: int, noun: str) -> str:
    """``1 case``, ``2 cases``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def judge_rows(report: CalibrationReport) -> list[list[Any]]:
    """The judge table's rows (under :data:`JUDGE_HEADERS`), one per judge."""
    rows = []
    for j in report.judges:
        if j.kappa is None or j.ci_low is None or j.ci_high is None:
            kappa = "undefined" if j.n else ""
        else:
            kappa = f"{j.kappa:.2f} [{j.ci_low:.2f}, {j.ci_high:.2f}]"
        rows.append(
            [
                j.judge,
                j.n,
                pct(j.agreement) if j.agreement is not None else "",
                kappa,
                f"{j.bias} ({j.bias_p:.2g})" if j.bias is not None and j.bias_p is not None else "",
                f"{j.confusion['judge_only']}/{j.confusion['person_only']}",
                "yes" if j.trusted else "no",
                j.labels_needed if j.labels_needed is not None else "",
            ]
        )
    return rows


def resting_verdicts(
    cases: Sequence[CaseResult],
    gates: Sequence[GateResult],
    report: CalibrationReport,
    mode: str,
) -> tuple[int, int] | None:
    """How many case and gate verdicts rest on a judge that is not trusted: those the run
    withheld under ``require``, else those it would have; None when there are none."""
    if mode == "require":
        counts = (
            sum(c.uncalibrated is not None for c in cases),
            sum(g.uncalibrated is not None for g in gates),
        )
    else:
        from promptsuite.labels import case_rests_on, gate_rests_on

        by_gate: dict[tuple[str, str, str], list[CaseResult]] = {}
        for case in cases:
            by_gate.setdefault((case.suite, case.model, case.variant), []).append(case)
        counts = (
            sum(case_rests_on(c, report) is not None for c in cases),
            sum(
                gate_rests_on(by_gate.get((g.suite, g.model, g.variant), []), report) is not None
                for g in gates
            ),
        )
    return counts if any(counts) else None


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
                g.decision,
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

    An error is an error; a verdict resting on an uncalibrated judge (under
    ``judge-calibration: require``) is uncalibrated; with no baseline (or a case new to it)
    a failing case fails; a regression fails; a failure the baseline recorded is a known
    failure (xfail), as is any failure while the baseline is being updated.
    """
    if result.error is not None:
        return "error"
    if result.uncalibrated is not None:
        return "uncalibrated"
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
