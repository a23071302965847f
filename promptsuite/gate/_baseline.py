"""Baselines: what each case did when a suite was last recorded, committed beside the suite.

A baseline lives in ``<suite folder>/__baselines__/<suite file stem>.json`` and holds, per
case x model x prompt variant, every repeat's pass/fail, score, output digest, tokens and
latency, plus the backend and a digest of the rendered prompt it was recorded with.
:func:`load_baselines` finds the baselines of a saved run for the report and the Markdown
summary.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptsuite._files import write_json_atomic
from promptsuite.errors import ConfigError
from promptsuite.results import BaselineStatus, CaseResult, RunResults

BASELINE_VERSION = 1
BASELINE_DIR = "__baselines__"


def baseline_path(suite_file: str | Path, root: Path | None = None) -> Path:
    """Where the baseline of a suite file lives.

    Args:
        suite_file: The suite file, as a path or as a run's results name it (``suite_path``).
        root: What a relative ``suite_file`` is relative to (default: the current directory).
    """
    path = Path(suite_file)
    if root is not None and not path.is_absolute():
        path = root / path
    return path.parent / BASELINE_DIR / f"{path.stem}.json"


def entry_key(result: CaseResult) -> str:
    """The key of a case result in its suite's baseline: ``case[model|variant]``."""
    return f"{result.case_id}[{result.model}|{result.variant}]"


def digest(text: str) -> str:
    """The short digest baselines keep of an output or a rendered prompt."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def messages_digest(messages: list[dict[str, str]]) -> str:
    """The digest of a case's rendered messages (tells a prompt change apart)."""
    return digest(json.dumps(messages, sort_keys=True))


@dataclass(frozen=True)
class BaselineRepeat:
    """One repeat as recorded.

    Attributes:
        passed: Whether it passed the case.
        score: Its score.
        output_digest: Digest of its output.
        output: Its output (for the report's diff); None in baselines recorded without it.
        prompt_tokens: Prompt tokens of its call.
        completion_tokens: Completion tokens of its call.
        latency_s: Latency of its call.
    """

    passed: bool
    score: float
    output_digest: str
    output: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


@dataclass(frozen=True)
class BaselineEntry:
    """One case x model x variant as recorded.

    Attributes:
        case_id: The case.
        model: The model label.
        variant: The prompt variant.
        backend: The backend identity it was recorded with.
        prompt_digest: Digest of the rendered messages (tells a prompt change apart).
        passed: Whether the case passed (its repeats reduced by the case's reducer).
        score: The case's score under its reducer.
        repeats: Every repeat as recorded.
    """

    case_id: str
    model: str
    variant: str
    backend: dict[str, Any]
    prompt_digest: str
    passed: bool
    score: float
    repeats: list[BaselineRepeat] = field(default_factory=list)

    @classmethod
    def from_result(cls, result: CaseResult) -> BaselineEntry:
        """The entry that records ``result``."""
        return cls(
            case_id=result.case_id,
            model=result.model,
            variant=result.variant,
            backend=result.backend,
            prompt_digest=messages_digest(result.messages),
            passed=result.passed,
            score=result.score,
            repeats=[
                BaselineRepeat(
                    passed=r.passed,
                    score=r.score,
                    output_digest=digest(r.output),
                    output=r.output,
                    prompt_tokens=r.generation.prompt_tokens if r.generation else 0,
                    completion_tokens=r.generation.completion_tokens if r.generation else 0,
                    latency_s=r.generation.latency_s if r.generation else 0.0,
                )
                for r in result.repeats
            ],
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineEntry:
        """Read the baseline file's form of an entry."""
        values = dict(data)
        values["repeats"] = [BaselineRepeat(**r) for r in data.get("repeats", ())]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The baseline file's form of the entry."""
        data = dict(self.__dict__)
        data["repeats"] = [dict(r.__dict__) for r in self.repeats]
        return data


@dataclass
class Baseline:
    """A suite's recorded case results."""

    suite: str
    entries: dict[str, BaselineEntry] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Baseline | None:
        """Read a baseline file; None when there is none."""
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != BASELINE_VERSION:
                raise ConfigError(
                    f"{path}: baseline version {data.get('version')!r} is not supported; "
                    f"expected {BASELINE_VERSION}; re-record it with --promptsuite-update-baseline"
                )
            entries = {k: BaselineEntry.from_dict(v) for k, v in data["entries"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}: unreadable baseline ({exc}); re-record it with "
                "--promptsuite-update-baseline"
            ) from None
        return cls(suite=str(data.get("suite", "")), entries=entries)

    def write(self, path: Path) -> Path:
        """Write the baseline atomically, entries in a stable order."""
        return write_json_atomic(
            path,
            {
                "version": BASELINE_VERSION,
                "suite": self.suite,
                "entries": {k: self.entries[k].to_dict() for k in sorted(self.entries)},
            },
            indent=1,
        )


#: Where a saved run's baselines come from: baseline files or folders of them, or the
#: baselines themselves by suite name.
BaselineSource = Sequence[str | Path] | Mapping[str, Baseline]


def baseline_entry(baselines: Mapping[str, Baseline], result: CaseResult) -> BaselineEntry | None:
    """The entry that recorded ``result`` in its suite's baseline (baselines by suite name)."""
    baseline = baselines.get(result.suite)
    return baseline.entries.get(entry_key(result)) if baseline else None


def load_baselines(
    results: RunResults, source: BaselineSource | None, root: Path
) -> dict[str, Baseline]:
    """Baselines by suite name: given ones, or (``None``) those beside each suite file.

    Args:
        results: The run; its cases' ``suite_path`` locate the baselines when none are given.
        source: Baseline files or folders of them, a ready mapping, or None to discover.
        root: What relative suite paths are relative to.
    """
    if isinstance(source, Mapping):
        return dict(source)
    if source is None:
        paths = [baseline_path(p, root) for p in sorted({c.suite_path for c in results.cases})]
    else:
        paths = []
        for item in map(Path, source):
            paths.extend(sorted(item.glob("*.json")) if item.is_dir() else [item])
    found: dict[str, Baseline] = {}
    for path in paths:
        baseline = Baseline.load(path)
        if baseline is not None:
            found[baseline.suite or path.stem] = baseline
    return found


def updated(
    existing: Baseline | None,
    suite: str,
    results: Iterable[CaseResult],
    case_ids: Collection[str],
) -> Baseline:
    """A refreshed baseline: results that ran replace their entries, entries of cases that
    no longer exist are pruned, and errored results (no verdict) keep the old entry."""
    entries = {
        key: entry
        for key, entry in (existing.entries.items() if existing else ())
        if entry.case_id in case_ids
    }
    for result in results:
        if result.error is None:
            entries[entry_key(result)] = BaselineEntry.from_result(result)
    return Baseline(suite=suite, entries=entries)


@dataclass(frozen=True)
class CaseComparison:
    """How a case's result stands against its baseline entry."""

    status: BaselineStatus
    message: str


def compare_case(entry: BaselineEntry | None, result: CaseResult) -> CaseComparison:
    """Classify a (non-errored) result against its baseline entry."""
    if entry is None:
        return CaseComparison("new", "not in the baseline")
    changed = entry.prompt_digest != messages_digest(result.messages)
    prompt_note = " (the rendered prompt changed since)" if changed else ""
    if result.passed and entry.passed:
        return CaseComparison("pass", "passed, as in the baseline")
    if result.passed:
        return CaseComparison(
            "improved",
            f"passes now but failed in the baseline{prompt_note}; "
            "record it with --promptsuite-update-baseline",
        )
    if entry.passed:
        return CaseComparison(
            "regression",
            f"REGRESSION: passed in the baseline (score {entry.score:.2f}), "
            f"fails now (score {result.score:.2f}){prompt_note}",
        )
    return CaseComparison(
        "known-failure",
        f"known failure recorded in the baseline (score {entry.score:.2f} -> "
        f"{result.score:.2f}){prompt_note}",
    )
