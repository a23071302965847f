"""A run's verdict as GitHub-flavoured Markdown: for a pull request comment or a CI job page.

Built on the same figures as the terminal summary (:mod:`promptsuite.console`): the table
per suite x model x prompt, the gate table, and each case's outcome as pytest reports it.
Adds what a reviewer needs without opening the HTML report: the regressions with the
baseline's and this run's output side by side and the checks that failed, the new
failures and errors, the flaky cases, and what the run cost. Everything the model wrote is
shown as code, so a reply cannot ping people, link issues or inject HTML; the text is cut
to fit a comment (GitHub takes 65,536 characters), the most urgent sections first.
"""

from __future__ import annotations

import html
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptsuite._format import MISSING, count, usd
from promptsuite.console import (
    GATE_HEADERS,
    JUDGE_HEADERS,
    SUMMARY_HEADERS,
    PytestOutcome,
    case_outcome,
    gate_rows,
    judge_rows,
    repeat_line,
    resting_verdicts,
    spend_text,
    summary_rows,
)
from promptsuite.errors import PromptsuiteError
from promptsuite.gate import (
    Baseline,
    BaselineEntry,
    GateInconclusive,
    GateResult,
    baseline_entry,
    recorded_gates,
    sorted_gates,
)
from promptsuite.labels import CalibrationReport
from promptsuite.prices import Price
from promptsuite.results import CaseResult, RunResults, call_counts, sample_rows

#: The hidden first line that lets a CI step find (and update) its earlier comment.
MARKER = "<!-- promptsuite:summary -->"
#: Default size limit: under GitHub's 65,536 characters per comment, with room to spare.
COMMENT_LIMIT = 60_000
#: Characters of an output shown in a regression's before/after excerpt.
EXCERPT_CHARS = 400
#: Rows of the suite and gate tables shown before the rest are summed up in one line.
TABLE_ROWS = 50


@dataclass(frozen=True)
class _Section:
    """A heading and its items; items are dropped from the end when the text is too long."""

    title: str
    items: list[str]
    intro: str = ""


def markdown_summary(
    run: RunResults,
    *,
    gates: Sequence[GateResult] | None = None,
    baselines: Mapping[str, Baseline] | None = None,
    prices: Mapping[str, Price] | None = None,
    limit: int = COMMENT_LIMIT,
    results_path: str | None = None,
    report_path: str | None = None,
) -> str:
    """The run's verdict in Markdown, at most ``limit`` characters long.

    Args:
        run: The run's results.
        gates: The suite gates' results; None takes those the results recorded
            (``metadata.gates``).
        baselines: The suites' baselines by suite name, for the regressions' "before".
        prices: Per-model prices overriding :data:`promptsuite.prices.DEFAULT_PRICES`.
        limit: Most characters to return; details are cut first, the verdict never.
        results_path: The results file, as shown to the reader.
        report_path: The HTML report, as shown to the reader.
    """
    settings = run.metadata.get("settings") or {}
    updating = bool(settings.get("update_baseline"))
    inconclusive: GateInconclusive = (
        "fail" if settings.get("gate_inconclusive") == "fail" else "pass"
    )
    gates = sorted_gates(recorded_gates(run) if gates is None else gates)
    cases = sorted(run.cases, key=lambda c: c.test_id)
    outcomes = {c.test_id: case_outcome(c, update_baseline=updating) for c in cases}
    failing_gates = [g for g in gates if g.failure(inconclusive) is not None]
    withheld = sum(o == "uncalibrated" for o in outcomes.values())
    withheld += sum(g.uncalibrated is not None for g in gates)

    head = [
        MARKER,
        _headline(cases, outcomes, failing_gates, withheld),
        "",
        _counts(outcomes, gates),
    ]
    shard = run.metadata.get("shard")
    if isinstance(shard, Mapping):
        head += [
            "",
            f"> Shard {shard.get('index')}/{shard.get('count')} of a split run: its gates are "
            "computed over every shard by `promptsuite merge`.",
        ]
    head += ["", "### Suites", "", _table(_suite_rows(cases, prices), (*SUMMARY_HEADERS, "cost"))]
    if gates:
        head += ["", "### Gate", "", _table(gate_rows(gates), GATE_HEADERS)]
    calibration = run.metadata.get("calibration")
    if isinstance(calibration, Mapping):
        mode = str(settings.get("judge_calibration") or "warn")
        head += ["", *_judges(cases, gates, CalibrationReport.model_validate(calibration), mode)]
    tail = [_footer(cases, prices, results_path, report_path)]

    found = baselines or {}
    sections = [
        _Section(
            "Regressions",
            [
                _regression(c, baseline_entry(found, c))
                for c in cases
                if c.baseline_status == "regression" and outcomes[c.test_id] == "failed"
            ],
            "Passed in the baseline, fail now.",
        ),
        _Section(
            "Failing cases",
            [
                _failure(c)
                for c in cases
                if outcomes[c.test_id] == "failed" and c.baseline_status != "regression"
            ],
            "Fail, and are not known failures of a baseline.",
        ),
        _Section("Errors", [_error(c) for c in cases if outcomes[c.test_id] == "error"]),
        _Section(
            "Gate failures",
            [
                f"- {_code(f'{g.suite} [{g.model}, {g.variant}]')}: {_html(g.verdict.reason)}"
                for g in failing_gates
            ],
        ),
        _Section("Flaky cases", [_flaky(c) for c in cases if c.flaky], "Repeats disagree."),
    ]
    return _fit(head, sections, tail, limit)


def write_step_summary(
    run: RunResults,
    *,
    gates: Sequence[GateResult] | None = None,
    baselines: Mapping[str, Baseline] | None = None,
    prices: Mapping[str, Price] | None = None,
    results_path: str | None = None,
    report_path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Append the run's summary to the file ``$GITHUB_STEP_SUMMARY`` names, when it is set.

    GitHub Actions shows that file on the job's page. The arguments are
    :func:`markdown_summary`'s; the finished run hands over the gates and baselines it holds.

    Returns:
        Why it could not be written, if it could not (the run itself is not affected).
    """
    target = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    try:
        text = markdown_summary(
            run,
            gates=gates,
            baselines=baselines,
            prices=prices,
            results_path=results_path,
            report_path=report_path,
        )
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except (OSError, PromptsuiteError) as exc:
        return f"GITHUB_STEP_SUMMARY not written: {exc}"
    return None


def _judges(
    cases: Sequence[CaseResult],
    gates: Sequence[GateResult],
    report: CalibrationReport,
    mode: str,
) -> list[str]:
    """Which judges are trusted and why, the labels not applied, the verdicts at stake."""
    lines = [
        "### Judges",
        "",
        f"Measured against people's labels; trusted when kappa's {report.confidence:.0%}"
        f" CI lower bound reaches {report.threshold:g} on at least {report.min_labels}"
        f" labels (`judge-calibration: {mode}`).",
        "",
    ]
    if report.judges:
        lines += [_table(judge_rows(report), JUDGE_HEADERS), ""]
    lines += [f"- {_code(j.judge)}: {_html(j.reason)}" for j in report.judges]
    resting = resting_verdicts(cases, gates, report, mode)
    if resting:
        verb = "are reported uncalibrated" if mode == "require" else "rest on untrusted judges"
        lines.append(f"- **{resting[0]} case and {resting[1]} gate verdicts {verb}**")
    for problem in report.problems[:TABLE_ROWS]:
        lines.append(f"- label not applied: {_code(problem)}")
    if len(report.problems) > TABLE_ROWS:
        lines.append(f"- … and {len(report.problems) - TABLE_ROWS} more labels not applied")
    return lines


def _headline(
    cases: Sequence[CaseResult],
    outcomes: Mapping[str, PytestOutcome],
    failing_gates: Sequence[Any],
    withheld: int = 0,
) -> str:
    regressions = sum(
        c.baseline_status == "regression" and outcomes[c.test_id] == "failed" for c in cases
    )
    failed = sum(o == "failed" for o in outcomes.values()) - regressions
    errors = sum(o == "error" for o in outcomes.values())
    problems = [
        _plural(regressions, "regression"),
        _plural(failed, "failing case"),
        _plural(errors, "error"),
        _plural(len(failing_gates), "failing gate"),
    ]
    shown = [p for p in problems if p]
    if shown:
        return f"## ❌ promptsuite: {', '.join(shown)}"
    if withheld:
        return f"## ⚠️ promptsuite: no regressions, {_plural(withheld, 'uncalibrated verdict')}"
    return "## ✅ promptsuite: no regressions"


def _plural(n: int, noun: str) -> str:
    return "" if n == 0 else f"{n} {noun}{'' if n == 1 else 's'}"


def _counts(outcomes: Mapping[str, PytestOutcome], gates: Sequence[GateResult]) -> str:
    tally = Counter(outcomes.values())
    parts = [
        f"{tally['passed']} passed" if tally["passed"] else "",
        _plural(tally["xfailed"], "known failure"),
        f"{tally['failed']} failed" if tally["failed"] else "",
        _plural(tally["error"], "error"),
        f"{tally['uncalibrated']} uncalibrated" if tally["uncalibrated"] else "",
    ]
    text = f"**{len(outcomes)} cases**: {', '.join(p for p in parts if p) or 'none ran'}"
    if gates:
        decisions = Counter(g.decision for g in gates)
        text += "; **gates**: " + ", ".join(f"{n} {d}" for d, n in sorted(decisions.items()))
    return text


def _suite_rows(cases: Sequence[CaseResult], prices: Mapping[str, Price] | None) -> list[list[Any]]:
    costs: dict[tuple[str, str, str], list[float | None]] = {}
    for sample in sample_rows(cases, prices):
        key = (sample["suite"], sample["model"], sample["variant"])
        costs.setdefault(key, []).append(sample["cost_usd"])
    rows = []
    for row in summary_rows(cases):
        parts = costs.get((row[0], row[1], row[2]), [])
        known = None if any(c is None for c in parts) else sum(c or 0.0 for c in parts)
        rows.append([*row, usd(known)])
    return rows


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    shown = list(rows[:TABLE_ROWS])
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in shown]
    if len(rows) > len(shown):
        lines.append(f"\n… and {len(rows) - len(shown)} more rows (see the HTML report)")
    return "\n".join(lines)


def _regression(case: CaseResult, entry: BaselineEntry | None) -> str:
    before = f"{entry.score:.2f}" if entry is not None else MISSING
    summary = f"<code>{_html(case.test_id)}</code>: score {before} → {case.score:.2f}"
    body = []
    if entry is not None and entry.repeats and entry.repeats[0].output is not None:
        body += ["**before** (baseline):", "", _block(entry.repeats[0].output)]
    elif entry is not None:
        body += ["**before** (baseline): its output was not recorded"]
    after = case.repeats[0].output if case.repeats else ""
    body += ["", "**after**:", "", _block(after), "", *_failed_checks(case)]
    return _details(summary, body)


def _failure(case: CaseResult) -> str:
    summary = f"<code>{_html(case.test_id)}</code>: score {case.score:.2f}"
    after = case.repeats[0].output if case.repeats else ""
    return _details(summary, ["**output**:", "", _block(after), "", *_failed_checks(case)])


def _failed_checks(case: CaseResult) -> list[str]:
    lines = [repeat_line(case), ""] if len(case.repeats) > 1 else []
    failed = [(r.index, c) for r in case.repeats for c in r.checks if not c.passed]
    if not failed:
        return lines
    lines.append("failed checks:")
    for index, check in failed:
        where = f" (repeat {index + 1})" if len(case.repeats) > 1 else ""
        lines.append(f"- {_code(check.name)}{where}: {_code(check.reason)}")
    return lines


def _error(case: CaseResult) -> str:
    return f"- {_code(case.test_id)}: {_code(f'{case.error_kind}: {case.error}')}"


def _flaky(case: CaseResult) -> str:
    return f"- {_code(case.test_id)}: {_code(repeat_line(case))}"


def _footer(
    cases: Sequence[CaseResult],
    prices: Mapping[str, Price] | None,
    results_path: str | None,
    report_path: str | None,
) -> str:
    tokens = sum(c.tokens for c in cases)
    text = f"{call_counts(cases).text(count)}, tokens: {count(tokens)}"
    text += spend_text(cases, prices)
    if results_path:
        text += f"; results: {_code(results_path)}"
    if report_path:
        text += f"; report: {_code(report_path)}"
    return text


#: Room kept for the "... and N more" lines and the headings of later sections.
_RESERVE = 200


def _fit(head: list[str], sections: Iterable[_Section], tail: list[str], limit: int) -> str:
    """Join the parts, keeping as many of each section's items as fit, in order."""
    text = "\n".join(head)
    ending = "\n\n" + "\n".join(tail)
    for section in sections:
        if not section.items:
            continue
        title = f"\n\n### {section.title} ({len(section.items)})\n\n"
        if section.intro:
            title += section.intro + "\n\n"
        kept: list[str] = []
        size = len(text) + len(title) + len(ending) + _RESERVE
        for item in section.items:
            if size + len(item) + 1 > limit:
                break
            kept.append(item)
            size += len(item) + 1
        left = len(section.items) - len(kept)
        more = f"… and {left} more (see the HTML report)" if left else ""
        if more and kept:
            more = "\n\n" + more
        if size + len(more) <= limit + _RESERVE:
            text += title + "\n".join(kept) + more
    text += ending
    if len(text) > limit:
        cut = "\n\n… (cut to fit; see the HTML report)"
        text = text[: max(0, limit - len(cut))] + cut
    return text + "\n"


def _details(summary: str, body: Sequence[str]) -> str:
    return "\n".join(["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>"])


def _block(text: str) -> str:
    """A fenced code block holding an excerpt of ``text``; no fence inside can close it."""
    excerpt = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + " …"
    longest = max((len(run) for run in re.findall(r"`+", excerpt)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{excerpt or '<empty>'}\n{fence}"


def _code(text: str) -> str:
    """An inline code span holding ``text`` (on one line), whatever backticks it holds."""
    flat = " ".join(str(text).split())
    if len(flat) > EXCERPT_CHARS:
        flat = flat[:EXCERPT_CHARS] + " …"
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def _html(text: str) -> str:
    return html.escape(" ".join(str(text).split()))


def _cell(value: Any) -> str:
    """A table cell: one line, HTML escaped, pipes escaped."""
    return _html(value).replace("|", "\\|")
