"""What the report shows, computed from a run and its baselines: groups, matrix rows and cells.

Plain data only (dicts and dataclasses of str/float/bool), so the template renders the
first page from it and the same cells go into the page's JSON data island for the rest.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptsuite.gate import (
    Baseline,
    BaselineEntry,
    baseline_entry,
    compare_case,
    digest,
    messages_digest,
)
from promptsuite.prices import Price, cost_usd, price_for
from promptsuite.results import (
    CaseResult,
    GenerationRecord,
    RunResults,
    SummaryRow,
    call_counts,
    group_by_variant,
    transcript_text,
)
from promptsuite.stats import wilson_interval

#: How the matrix orders its rows: the most urgent first.
SEVERITY = (
    "regression",
    "error",
    "fail",
    "uncalibrated",
    "known-failure",
    "flaky",
    "improved",
    "pass",
)
#: Outputs longer than this are not diffed (difflib is quadratic in the worst case).
MAX_DIFF_CHARS = 20_000
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class Group(SummaryRow):
    """One overview line: a suite x model x prompt variant's summary row, plus what the
    report adds: repeats, cost, baseline statuses and the charts' distributions."""

    samples: int
    sample_pass_rate: float | None
    sample_interval: tuple[float, float] | None
    cost: float | None
    spent: float | None
    statuses: dict[str, int]
    scores: list[float]
    latencies_s: list[float]
    call_tokens: list[int]

    @property
    def label(self) -> str:
        return f"{self.suite} / {self.model} / {self.variant}"


@dataclass(frozen=True)
class View:
    """Everything the template needs."""

    title: str
    metadata: dict[str, Any]
    groups: list[Group]
    gates: list[dict[str, Any]]
    columns: list[str]
    rows: list[dict[str, Any]]
    tags: list[str]
    suites: list[str]
    totals: dict[str, Any]
    models: list[dict[str, Any]]
    calibration: dict[str, Any] | None


def build_view(
    results: RunResults,
    baselines: Mapping[str, Baseline],
    prices: Mapping[str, Price] | None,
    title: str,
) -> View:
    """Compute the report's content from a run and its baselines."""
    cases = sorted(results.cases, key=lambda c: (c.suite, c.case_id, c.model, c.variant))
    cells = {id(c): _cell(c, baseline_entry(baselines, c), prices) for c in cases}
    columns = sorted({f"{c.model} | {c.variant}" for c in cases})
    by_row: dict[tuple[str, str], dict[str, Any]] = {}
    for case in cases:
        row = by_row.setdefault(
            (case.suite, case.case_id),
            {"suite": case.suite, "case": case.case_id, "tags": list(case.tags), "cells": {}},
        )
        row["cells"][f"{case.model} | {case.variant}"] = cells[id(case)]
    rows = list(by_row.values())
    for row in rows:
        row["rank"] = min(SEVERITY.index(cell["kind"]) for cell in row["cells"].values())
    rows.sort(key=lambda r: r["rank"])
    groups = _groups(cases, cells)
    return View(
        title=title,
        metadata=results.metadata,
        groups=groups,
        gates=sorted(results.metadata.get("gates") or [], key=lambda g: (g["suite"], g["model"])),
        columns=columns,
        rows=rows,
        tags=sorted({t for c in cases for t in c.tags}),
        suites=sorted({c.suite for c in cases}),
        totals=_totals(cases, groups),
        models=_models(cases, prices),
        calibration=results.metadata.get("calibration"),
    )


def _cell(
    case: CaseResult, entry: BaselineEntry | None, prices: Mapping[str, Price] | None
) -> dict[str, Any]:
    """One matrix cell: everything shown for a case x model x variant."""
    status = case.baseline_status
    if status is None and entry is not None and case.error is None:
        status = compare_case(entry, case).status
    state = "error" if case.error is not None else ("pass" if case.passed else "fail")
    price = price_for(case.model, case.backend, prices)
    calls = case.generations
    cell: dict[str, Any] = {
        "state": state,
        "kind": "uncalibrated" if case.uncalibrated else _kind(state, status, case.flaky),
        "uncalibrated": case.uncalibrated,
        "flaky": case.flaky,
        "baseline": status,
        "score": case.score,
        "n": len(case.repeats),
        "pass_rate": case.pass_rate,
        "interval": list(case.interval),
        # A conversation shows as its transcript, each check named with its turn.
        "outputs": [
            transcript_text(r.transcript) if r.transcript is not None else r.output
            for r in case.repeats
        ],
        "checks": [
            [[_turned(c.type, c.turn), c.metric, c.passed, c.score, c.reason] for c in r.checks]
            for r in case.repeats
        ],
        "failed": sorted({c.name for r in case.repeats for c in r.checks if not c.passed}),
        "messages": [[m.get("role", ""), m.get("content", "")] for m in case.messages],
        "tokens": case.tokens,
        "calls": call_counts([case]).text(),
        "latency_s": case.mean_latency_s,
        "cost": _sum_known(_call_cost(g, price) for g in calls),
        "spent": _sum_known(_call_cost(g, price) for g in calls if not g.cached),
        "error": f"{case.error_kind}: {case.error}" if case.error else None,
        "test_id": case.test_id,
        "base": _baseline_cell(entry, case) if entry is not None else None,
    }
    return cell


def _turned(name: str, turn: int | None) -> str:
    return f"turn {turn}: {name}" if turn is not None else name


def _kind(state: str, status: str | None, flaky: bool) -> str:
    if status == "regression":
        return "regression"
    if state == "error":
        return "error"
    if state == "fail":
        return "known-failure" if status == "known-failure" else "fail"
    if flaky:
        return "flaky"
    return "improved" if status == "improved" else "pass"


def _call_cost(generation: GenerationRecord, price: Price | None) -> float | None:
    if price is None:
        return None
    return cost_usd(generation.prompt_tokens, generation.completion_tokens, price)


def _baseline_cell(entry: BaselineEntry, case: CaseResult) -> dict[str, Any]:
    """The baseline's side: its score and outputs, and a word diff of the first output.

    Baselines store each repeat's output digest and, where recorded, its text; without the
    text the report can still say whether the output changed.
    """
    outputs = [r.output for r in entry.repeats]
    same = [
        r.output_digest == digest(case.repeats[i].output)
        for i, r in enumerate(entry.repeats[: len(case.repeats)])
    ]
    diff = None
    first = outputs[0] if outputs else None
    if isinstance(first, str) and case.repeats and not (same and same[0]):
        diff = word_diff(first, case.repeats[0].output)
    return {
        "passed": entry.passed,
        "score": entry.score,
        "outputs": outputs,
        "same": same,
        "diff": diff,
        "prompt_changed": entry.prompt_digest != messages_digest(case.messages),
    }


def word_diff(old: str, new: str) -> list[list[str]] | None:
    """A word-level diff as ``[op, text]`` pairs: ``=`` kept, ``-`` removed, ``+`` added.

    Returns None for texts too long to diff quickly.
    """
    if len(old) + len(new) > MAX_DIFF_CHARS:
        return None
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    ops: list[list[str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(["=", "".join(a[i1:i2])])
            continue
        if i2 > i1:
            ops.append(["-", "".join(a[i1:i2])])
        if j2 > j1:
            ops.append(["+", "".join(b[j1:j2])])
    return ops


def _groups(cases: Iterable[CaseResult], cells: Mapping[int, dict[str, Any]]) -> list[Group]:
    groups = []
    for key, group in group_by_variant(cases):
        row = SummaryRow.of(key, group)
        samples = sum(len(c.repeats) for c in group)
        sample_passes = sum(c.passes for c in group)
        repeated = any(len(c.repeats) > 1 for c in group)
        costs = [cells[id(c)]["cost"] for c in group]
        spent = [cells[id(c)]["spent"] for c in group]
        statuses: dict[str, int] = {}
        for c in group:
            status = cells[id(c)]["baseline"]
            if status:
                statuses[status] = statuses.get(status, 0) + 1
        generations = [g for c in group for g in c.generations]
        groups.append(
            Group(
                **row.__dict__,
                samples=samples,
                sample_pass_rate=sample_passes / samples if repeated and samples else None,
                sample_interval=wilson_interval(sample_passes, samples) if repeated else None,
                cost=_sum_known(costs),
                spent=_sum_known(spent),
                statuses=statuses,
                scores=[c.score for c in group],
                latencies_s=[g.latency_s for g in generations if g.calls],
                call_tokens=[g.tokens for g in generations],
            )
        )
    return groups


def _totals(cases: Sequence[CaseResult], groups: Sequence[Group]) -> dict[str, Any]:
    costs = [g.cost for g in groups]
    spent = [g.spent for g in groups]
    return {
        "cases": len(cases),
        "passed": sum(c.passed for c in cases),
        "failed": sum(not c.passed and c.error is None for c in cases),
        "errors": sum(c.error is not None for c in cases),
        "flaky": sum(c.flaky for c in cases),
        "uncalibrated": sum(c.uncalibrated is not None for c in cases),
        "regressions": sum(g.statuses.get("regression", 0) for g in groups),
        "tokens": sum(g.tokens for g in groups),
        "calls": call_counts(cases).text(),
        "cost": _sum_known(costs),
        "spent": _sum_known(spent),
    }


def _sum_known(values: Iterable[float | None]) -> float | None:
    """The sum, or None when any part is unknown (a model without a price)."""
    total = 0.0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def _models(
    cases: Iterable[CaseResult], prices: Mapping[str, Price] | None
) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for case in cases:
        if case.model not in seen:
            seen[case.model] = {
                "label": case.model,
                "backend": ", ".join(f"{k}={v}" for k, v in sorted(case.backend.items())),
                "price": price_for(case.model, case.backend, prices),
            }
    return list(seen.values())
