"""Run results: what each case did, persisted as a versioned JSON file.

The file is the contract between a run and everything that reads it later (reports,
baselines, notebooks). ``version`` changes whenever a field changes meaning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsuite._files import write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

RESULTS_VERSION = 1


@dataclass(frozen=True)
class RepeatResult:
    """One sample of one case.

    Attributes:
        index: Repeat index, from 0.
        output: The model's reply ("" when the call failed).
        generation: Tokens, latency, finish reason, model and whether it came from the cache.
        checks: Every expectation's result (``CheckResult.to_dict()``).
        passed: Whether this sample passed the case.
        score: Weighted mean score of the checks.
        error: Why the sample could not be produced or checked, if so.
    """

    index: int
    output: str
    generation: dict[str, Any]
    checks: list[dict[str, Any]]
    passed: bool
    score: float
    error: str | None = None


@dataclass(frozen=True)
class CaseResult:
    """One case x model x prompt variant, over all its repeats.

    Attributes:
        test_id: The pytest node id (``suites/support.yaml::refund[local]``).
        suite: Suite name.
        suite_path: Suite file path.
        case_id: Case id.
        model: Model label used in test ids.
        backend: The backend's identity (provider, model, endpoint; never a secret).
        variant: Prompt variant name.
        tags: Case tags.
        messages: The rendered messages sent to the model.
        repeats: Every sample.
        passed: The case's verdict: its repeats reduced by ``reducer`` (and
            ``min_pass_rate``); False when any sample errored.
        score: The case's score under the reducer (mean, lowest or highest repeat score).
        error: Set when any sample errored (model, template or check error).
        error_kind: The error's class name.
        reducer: How the repeats were reduced (``all-pass``, ``mean``, ``any-pass``).
        min_pass_rate: The fraction of repeats that had to pass, when the case set one.
        baseline_status: Against the committed baseline: ``pass``, ``regression``,
            ``known-failure``, ``improved`` or ``new`` (None without a baseline).
    """

    test_id: str
    suite: str
    suite_path: str
    case_id: str
    model: str
    backend: dict[str, Any]
    variant: str
    tags: list[str]
    messages: list[dict[str, str]]
    repeats: list[RepeatResult]
    passed: bool
    score: float
    error: str | None = None
    error_kind: str | None = None
    reducer: str = "all-pass"
    min_pass_rate: float | None = None
    baseline_status: str | None = None

    @property
    def passes(self) -> int:
        """Repeats that passed."""
        return sum(1 for r in self.repeats if r.passed)

    @property
    def pass_rate(self) -> float:
        """Fraction of repeats that passed (0 when none ran)."""
        return self.passes / len(self.repeats) if self.repeats else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the pass rate over the repeats."""
        from promptsuite.gate._stats import wilson_interval

        return wilson_interval(self.passes, len(self.repeats))

    @property
    def flaky(self) -> bool:
        """The repeats disagree: some passed, some did not."""
        return 0 < self.passes < len(self.repeats)

    @property
    def mean_score(self) -> float:
        """Mean score over the repeats, whatever the reducer."""
        return _mean([r.score for r in self.repeats])

    @property
    def tokens(self) -> int:
        return sum(
            int(r.generation.get("prompt_tokens", 0))
            + int(r.generation.get("completion_tokens", 0))
            for r in self.repeats
        )

    @property
    def mean_latency_s(self) -> float:
        values = [float(r.generation.get("latency_s", 0.0)) for r in self.repeats if r.generation]
        return sum(values) / len(values) if values else 0.0

    def to_dict(self) -> dict[str, Any]:
        # Hand-written: dataclasses.asdict deep-copies every nested value, which dominated
        # the plugin's per-case cost on large runs.
        data = dict(self.__dict__)
        data["repeats"] = [dict(r.__dict__) for r in self.repeats]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseResult:
        values = dict(data)
        values["repeats"] = [RepeatResult(**r) for r in data["repeats"]]
        return cls(**values)


@dataclass
class RunResults:
    """Everything one run produced, plus how it was run."""

    cases: list[CaseResult] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": RESULTS_VERSION,
            "metadata": self.metadata,
            "cases": [c.to_dict() for c in sorted(self.cases, key=lambda c: c.test_id)],
        }

    def write(self, path: str | Path) -> Path:
        """Write atomically: readers never see a half-written file."""
        return write_json_atomic(Path(path), self.to_dict())

    def rows(self, prices: Mapping[str, Price] | None = None) -> list[dict[str, Any]]:
        """One flat row per case x model x prompt variant x repeat (see :func:`sample_rows`)."""
        return sample_rows(self.cases, prices)

    def expectation_rows(self) -> list[dict[str, Any]]:
        """One flat row per expectation of every repeat (see :func:`expectation_rows`)."""
        return expectation_rows(self.cases)

    def to_dataframe(self, prices: Mapping[str, Price] | None = None) -> pd.DataFrame:
        """The results as a pandas DataFrame, one row per case x model x prompt x repeat.

        Args:
            prices: Per-model prices overriding :data:`DEFAULT_PRICES` for ``cost_usd``.

        Raises:
            MissingDependency: If pandas is not installed.
        """
        frame: pd.DataFrame = _pandas().DataFrame(self.rows(prices), columns=SAMPLE_COLUMNS)
        return frame

    def expectations_dataframe(self) -> pd.DataFrame:
        """The tidy per-expectation view: one row per check of every repeat."""
        frame: pd.DataFrame = _pandas().DataFrame(
            self.expectation_rows(), columns=EXPECTATION_COLUMNS
        )
        return frame

    def export(
        self,
        path: str | Path,
        *,
        expectations: bool = False,
        prices: Mapping[str, Price] | None = None,
    ) -> Path:
        """Write the rows as CSV or JSON Lines, chosen by the file's suffix.

        Args:
            path: Target file, ending in ``.csv`` or ``.jsonl``.
            expectations: Write the per-expectation view instead of one row per repeat.
            prices: Per-model prices overriding :data:`DEFAULT_PRICES`.

        Raises:
            ConfigError: If the suffix is neither ``.csv`` nor ``.jsonl``.
        """
        return export_rows(
            self.expectation_rows() if expectations else self.rows(prices),
            EXPECTATION_COLUMNS if expectations else SAMPLE_COLUMNS,
            Path(path),
        )


def load(path: str | Path) -> RunResults:
    """Read a results file written by a run."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    version = data.get("version")
    if version != RESULTS_VERSION:
        from promptsuite.errors import ConfigError

        raise ConfigError(
            f"{path}: results version {version!r} is not supported; expected {RESULTS_VERSION}"
        )
    return RunResults(
        cases=[CaseResult.from_dict(c) for c in data["cases"]], metadata=data["metadata"]
    )


def write_json_atomic(path: Path, data: Any, *, indent: int | None = None) -> Path:
    """Write JSON through a temporary file and an atomic rename.

    ``indent=None`` writes the compact form, which uses the C encoder (~5x faster on big
    runs); files meant for review in diffs (baselines) pass an indent.
    """
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(data, ensure_ascii=False, indent=indent, separators=separators)
    return write_text_atomic(path, text + "\n")


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
        return self.passed / self.cases if self.cases else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the pass rate over the cases."""
        from promptsuite.gate._stats import wilson_interval

        return wilson_interval(self.passed, self.cases)

    @classmethod
    def of(cls, key: tuple[str, str, str], members: Sequence[CaseResult]) -> SummaryRow:
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
            mean_score=_mean([c.score for c in members]),
            tokens=sum(c.tokens for c in members),
            mean_latency_s=_mean([c.mean_latency_s for c in members]),
        )


def group_by_variant(
    cases: Iterable[CaseResult],
) -> list[tuple[tuple[str, str, str], list[CaseResult]]]:
    """Cases grouped per (suite, model, variant), in a stable order."""
    groups: dict[tuple[str, str, str], list[CaseResult]] = {}
    for case in cases:
        groups.setdefault((case.suite, case.model, case.variant), []).append(case)
    return sorted(groups.items())


def summarize(cases: Iterable[CaseResult]) -> list[SummaryRow]:
    """One row per suite x model x variant, in a stable order."""
    return [SummaryRow.of(key, members) for key, members in group_by_variant(cases)]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


Price = tuple[float, float]
"""US dollars per million (prompt tokens, completion tokens)."""

#: List prices of a few hosted models (USD per 1M prompt / completion tokens, as published
#: by OpenAI in 2025). Prices change: pass your own table to override or extend it. Keys are
#: matched against a case's model label, then ``provider:model``, then the backend's model.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}
#: Providers that cost nothing per token: the embedded model and scripted answers.
FREE_PROVIDERS = frozenset({"local", "scripted"})

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
EXPECTATION_COLUMNS = (
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
)


def price_for(
    model: str, backend: Mapping[str, Any], prices: Mapping[str, Price] | None = None
) -> Price | None:
    """The per-token price of a model, or None when it is unknown.

    Args:
        model: The case's model label (``mini``, ``local``, ``replay:openai:gpt-4o``).
        backend: The case's backend identity (``provider``, ``model``...).
        prices: Prices that override or extend :data:`DEFAULT_PRICES`.

    Returns:
        (prompt, completion) USD per million tokens; (0, 0) for the embedded and scripted
        models and for replayed answers.
    """
    table = {**DEFAULT_PRICES, **(prices or {})}
    provider, name = backend.get("provider"), backend.get("model")
    for key in (model, f"{provider}:{name}", str(name)):
        if key in table:
            return table[key]
    if provider in FREE_PROVIDERS or model.startswith("replay:"):
        return (0.0, 0.0)
    return None


def generation_cost(generation: Mapping[str, Any], price: Price | None) -> float | None:
    """What one call costs at ``price`` (cached or not), or None when the price is unknown."""
    if price is None:
        return None
    prompt = int(generation.get("prompt_tokens", 0))
    completion = int(generation.get("completion_tokens", 0))
    return (prompt * price[0] + completion * price[1]) / 1_000_000


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
                    "checks_failed": sum(not c.get("passed") for c in repeat.checks),
                    "prompt_tokens": int(generation.get("prompt_tokens", 0)),
                    "completion_tokens": int(generation.get("completion_tokens", 0)),
                    "latency_s": float(generation.get("latency_s", 0.0)),
                    "finish_reason": generation.get("finish_reason"),
                    "cached": bool(generation.get("cached", False)),
                    "cost_usd": generation_cost(generation, price) if generation else None,
                }
            )
    return rows


def expectation_rows(cases: Iterable[CaseResult]) -> list[dict[str, Any]]:
    """One flat row per expectation of every repeat, keyed by EXPECTATION_COLUMNS."""
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
                        "type": check.get("type"),
                        "metric": check.get("metric"),
                        "passed": check.get("passed"),
                        "score": check.get("score"),
                        "weight": check.get("weight"),
                        "reason": check.get("reason"),
                    }
                )
    return rows


def export_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: Path) -> Path:
    """Write rows as CSV (a header, empty cells for None) or JSON Lines, by ``path``'s suffix."""
    import csv

    from promptsuite.errors import ConfigError

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


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        from promptsuite.errors import MissingDependency

        raise MissingDependency("pandas", 'pip install "promptsuite[data]"') from None
    return pandas
