"""What an optimization run records: every candidate prompt, as it is evaluated.

These records are the contract between the search (which produces them, ``_search.py``) and
everything that reads them afterwards: plateau detection and the advice (``_analysis.py``),
the fine-tuning export (``_export.py``) and the optimization report. They are plain
dataclasses, persisted as versioned JSON (``OptimizationRun.to_dict`` / ``from_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Version 2 added ``CaseScore.failed_checks``; version 1 records read with it empty.
OPTIMIZATION_VERSION = 2


@dataclass(frozen=True)
class Demo:
    """One few-shot example of a candidate: the case's template vars and the reply shown."""

    vars: dict[str, Any]
    output: str


@dataclass(frozen=True)
class CaseScore:
    """One case's result under one candidate, over its repeats.

    Attributes:
        case_id: Suite case id.
        split: ``train``, ``val`` or ``test``.
        tags: The case's tags.
        scores: Score of each repeat (0..1).
        passes: Pass/fail of each repeat.
        output: The first repeat's output (for the report and the export).
        failed_checks: The checks the first repeat failed, by name (``type (metric)``).
    """

    case_id: str
    split: str
    tags: list[str]
    scores: list[float]
    passes: list[bool]
    output: str = ""
    failed_checks: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.passes) and all(self.passes)


@dataclass(frozen=True)
class Candidate:
    """One prompt candidate, as evaluated on the validation split.

    Attributes:
        index: Order of evaluation, from 0 (0 is the user's own prompt, the baseline).
        source: What proposed it (``baseline``, ``bootstrap``, ``copro``, ``mipro``, ``gepa``...).
        instruction: The system instruction of the candidate.
        demos: Its few-shot examples.
        val_score: Mean score over the validation cases.
        cases: Per-case results on the validation split.
        lm_calls: Task-model calls made by the whole run so far (cache hits excluded).
        prompt_model_calls: Prompt-model calls so far.
        tokens: Tokens (prompt + completion) used by the run so far.
        prompt_tokens_per_call: Mean prompt tokens of one call with this candidate.
        elapsed_s: Seconds since the run started, when it was recorded.
    """

    index: int
    source: str
    instruction: str
    demos: list[Demo]
    val_score: float
    cases: list[CaseScore]
    lm_calls: int = 0
    prompt_model_calls: int = 0
    tokens: int = 0
    prompt_tokens_per_call: float = 0.0
    elapsed_s: float = 0.0


@dataclass
class OptimizationRun:
    """A whole optimization run: settings, split, candidates, and the verified result.

    Attributes:
        suite: Suite name.
        suite_path: Suite file.
        prompt_path: Prompt file the variants come from / are written to.
        model: Task model label.
        prompt_model: Prompt-proposing model label.
        optimizer: Optimizer name.
        seed: Seed of the split and the search.
        budget: Candidate budget.
        target: Target score.
        split: case id -> ``train`` / ``val`` / ``test``.
        candidates: Every candidate in evaluation order.
        test_results: Candidate index -> per-case results on the held-out test split, through
            promptsuite's own runner (the verification).
        written_variants: Names of variants written back into the prompt file.
        metadata: Versions, timings, settings.
    """

    suite: str
    suite_path: str
    prompt_path: str
    model: str
    prompt_model: str
    optimizer: str
    seed: int
    budget: int
    target: float
    split: dict[str, str]
    candidates: list[Candidate] = field(default_factory=list)
    test_results: dict[int, list[CaseScore]] = field(default_factory=dict)
    written_variants: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("candidates", "test_results")
        }
        data["version"] = OPTIMIZATION_VERSION
        data["candidates"] = [_candidate_dict(c) for c in self.candidates]
        data["test_results"] = {
            str(index): [dict(s.__dict__) for s in scores]
            for index, scores in self.test_results.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizationRun:
        values = {k: v for k, v in data.items() if k != "version"}
        values["candidates"] = [_candidate_from(c) for c in data.get("candidates", [])]
        values["test_results"] = {
            int(index): [CaseScore(**s) for s in scores]
            for index, scores in data.get("test_results", {}).items()
        }
        return cls(**values)


def _candidate_dict(candidate: Candidate) -> dict[str, Any]:
    data = dict(candidate.__dict__)
    data["demos"] = [dict(d.__dict__) for d in candidate.demos]
    data["cases"] = [dict(s.__dict__) for s in candidate.cases]
    return data


def _candidate_from(data: dict[str, Any]) -> Candidate:
    values = dict(data)
    values["demos"] = [Demo(**d) for d in data.get("demos", [])]
    values["cases"] = [CaseScore(**s) for s in data.get("cases", [])]
    return Candidate(**values)
