"""Results as tables: summary rows per suite x model x prompt, flat rows for pandas and files."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptsuite.errors import ConfigError
from promptsuite.prices import Price, cost_usd, price_for
from promptsuite.results._records import CaseResult, mean
from promptsuite.stats import wilson_interval

GroupKey = tuple[str, str, str]
"""``(suite, model, variant)``."""


@dataclass(frozen=True)
class SummaryRow:
    """One line of the end-of-run table: a suite x model x variant."""

    suite: str
    model: str
    variant: str
    cases: int
    passed: int
    errors: int
    flaky: int
    mean_score: float
    tokens: int
    mean_latency_s: float

    @property
    def pass_rate(self) -> float:
        """Share of the cases that passed."""
        return self.passed / self.cases if self.cases else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the pass rate over the cases."""
        return wilson_interval(self.passed, self.cases)

    @classmethod
    def of(cls, key: GroupKey, members: Sequence[CaseResult]) -> SummaryRow:
        """The row of one group from :func:`group_by_variant`."""
        suite, model, variant = key
        return cls(
            suite=suite,
            model=model,
            variant=variant,
            cases=len(members),
            passed=sum(c.passed for c in members),
            errors=sum(c.error is not None for c in members),
            flaky=sum(c.flaky for c in members),
            mean_score=mean([c.score for c in members]),
            tokens=sum(c.tokens for c in members),
            mean_latency_s=mean([c.mean_latency_s for c in members]),
        )


def group_by_variant(cases: Iterable[CaseResult]) -> list[tuple[GroupKey, list[CaseResult]]]:
    """Cases grouped per (suite, model, variant), in a stable order."""
    groups: dict[GroupKey, list[CaseResult]] = {}
    for case in cases:
        groups.setdefault((case.suite, case.model, case.variant), []).append(case)
    return sorted(groups.items())


@dataclass(frozen=True)
class CallCounts:
    """The requests of some cases, from their records (errored repeats included).

    Attributes:
        sent: Requests that reached a model: answered, or failed (every retry counts).
        failed: Of those, the requests that got no usable answer.
        retried: Of the failed requests, those that were sent again.
        cache_hits: Requests the cache answered instead.
    """

    sent: int = 0
    failed: int = 0
    retried: int = 0
    cache_hits: int = 0

    @property
    def answered(self) -> int:
        """Requests the model answered."""
        return self.sent - self.failed

    def text(self, number: Callable[[int], str] = str) -> str:
        """``model calls: 35 (23 answered, 12 failed, 10 of them retried), cache hits: 0``;
        the part in brackets only when a request failed."""
        calls = f"model calls: {number(self.sent)}"
        if self.failed:
            retried = f", {number(self.retried)} of them retried" if self.retried else ""
            calls += f" ({number(self.answered)} answered, {number(self.failed)} failed{retried})"
        return f"{calls}, cache hits: {number(self.cache_hits)}"


def call_counts(cases: Iterable[CaseResult]) -> CallCounts:
    """The requests of every repeat of ``cases``."""
    records = [g for c in cases for g in c.generations]
    return CallCounts(
        sent=sum(g.sent for g in records),
        failed=sum(g.failed for g in records),
        retried=sum(g.retried for g in records),
        cache_hits=sum(g.hits for g in records),
    )


def spent_usd(
    cases: Iterable[CaseResult], prices: Mapping[str, Price] | None = None
) -> float | None:
    """What the requests the cases sent cost, cache hits left out (a record the cache
    answered only in part counts whole); None when a model that was called has no price."""
    total = 0.0
    for case in cases:
        records = [g for g in case.generations if not g.cached]
        if not records:
            continue
        price = price_for(case.model, case.backend, prices)
        if price is None:
            return None
        total += sum(cost_usd(g.prompt_tokens, g.completion_tokens, price) for g in records)
    return total


def usage_metadata(
    cases: Sequence[CaseResult], prices: Mapping[str, Price] | None = None
) -> dict[str, Any]:
    """What a run's requests came to, as the results file's metadata records it:
    ``model_calls`` (every request sent, failed ones and retries included),
    ``failed_calls``, ``retried_calls``, ``cache_hits``, ``tokens`` (of every answer, from
    cases that errored too) and ``cost_usd`` (:func:`spent_usd`)."""
    counts = call_counts(cases)
    return {
        "model_calls": counts.sent,
        "failed_calls": counts.failed,
        "retried_calls": counts.retried,
        "cache_hits": counts.cache_hits,
        "tokens": sum(c.tokens for c in cases),
        "cost_usd": spent_usd(cases, prices),
    }


def summarize(cases: Iterable[CaseResult]) -> list[SummaryRow]:
    """One row per suite x model x variant, in a stable order."""
    return [SummaryRow.of(key, members) for key, members in group_by_variant(cases)]


SAMPLE_COLUMNS = (
    "test_id",
    "suite",
    "case_id",
    "model",
    "variant",
    "provider",
    "backend_model",
    "tags",
    "repeat",
    "repeats",
    "output",
    "passed",
    "score",
    "error",
    "error_kind",
    "checks",
    "checks_failed",
    "case_passed",
    "case_score",
    "case_pass_rate",
    "flaky",
    "reducer",
    "baseline_status",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "finish_reason",
    "cached",
    "cost_usd",
)
CHECK_COLUMNS = (
    "test_id",
    "suite",
    "case_id",
    "model",
    "variant",
    "repeat",
    "check",
    "type",
    "metric",
    "passed",
    "score",
    "weight",
    "reason",
    "turn",
)


def sample_rows(
    cases: Iterable[CaseResult], prices: Mapping[str, Price] | None = None
) -> list[dict[str, Any]]:
    """One flat row per case x model x prompt variant x repeat, keyed by SAMPLE_COLUMNS.

    Case-level values (``case_passed``, ``case_score``, ``flaky``...) repeat on every row of
    the case; ``cost_usd`` is the call's price whether or not it came from the cache.
    """
    rows = []
    for case in cases:
        price = price_for(case.model, case.backend, prices)
        shared = {
            "test_id": case.test_id,
            "suite": case.suite,
            "case_id": case.case_id,
            "model": case.model,
            "variant": case.variant,
            "provider": case.backend.get("provider"),
            "backend_model": case.backend.get("model"),
            "tags": ",".join(case.tags),
            "repeats": len(case.repeats),
            "case_passed": case.passed,
            "case_score": case.score,
            "case_pass_rate": case.pass_rate,
            "flaky": case.flaky,
            "reducer": case.reducer,
            "baseline_status": case.baseline_status,
        }
        for repeat in case.repeats:
            generation = repeat.generation
            rows.append(
                {
                    **shared,
                    "repeat": repeat.index,
                    "output": repeat.output,
                    "passed": repeat.passed,
                    "score": repeat.score,
                    "error": repeat.error,
                    "error_kind": case.error_kind if repeat.error else None,
                    "checks": len(repeat.checks),
                    "checks_failed": sum(not c.passed for c in repeat.checks),
                    "prompt_tokens": generation.prompt_tokens if generation else 0,
                    "completion_tokens": generation.completion_tokens if generation else 0,
                    "latency_s": generation.latency_s if generation else 0.0,
                    "finish_reason": generation.finish_reason if generation else None,
                    "cached": generation.cached if generation else False,
                    "cost_usd": (
                        cost_usd(generation.prompt_tokens, generation.completion_tokens, price)
                        if generation and price is not None
                        else None
                    ),
                }
            )
    return rows


def check_rows(cases: Iterable[CaseResult]) -> list[dict[str, Any]]:
    """One flat row per check of every repeat, keyed by CHECK_COLUMNS (``turn``: the
    conversation turn a check belongs to, None for a single reply or a whole conversation)."""
    rows = []
    for case in cases:
        for repeat in case.repeats:
            for number, check in enumerate(repeat.checks):
                rows.append(
                    {
                        "test_id": case.test_id,
                        "suite": case.suite,
                        "case_id": case.case_id,
                        "model": case.model,
                        "variant": case.variant,
                        "repeat": repeat.index,
                        "check": number,
                        "type": check.type,
                        "metric": check.metric,
                        "passed": check.passed,
                        "score": check.score,
                        "weight": check.weight,
                        "reason": check.reason,
                        "turn": check.turn,
                    }
                )
    return rows


def export_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: Path) -> Path:
    """Write rows as CSV (a header, empty cells for None) or JSON Lines, by ``path``'s suffix.

    Raises:
        ConfigError: The suffix is neither ``.csv`` nor ``.jsonl``.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ConfigError(f"{path}: cannot export to {suffix or 'no suffix'!r}; use .csv or .jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            writer = csv.DictWriter(handle, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
