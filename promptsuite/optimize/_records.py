"""What an optimization run records: every candidate prompt, as it is evaluated.

These records are the contract between the search (which produces them, ``search/``) and
everything that reads them afterwards: the write-back, the verification, the analysis, the
fine-tuning export, the optimization report and ``promptsuite finetune``. They are pydantic
models persisted as versioned JSON (``run.json``, and the ``run`` of ``optimization.json``);
:func:`read_run` reads a file back, and a record of an older version is converted where it
is validated (:meth:`OptimizationRun._upgrade`), so every reader gets the current shape.

At about 550 lines it stays whole: it is the one record of a run, its parts side by side
with a docstring under each field (most of the length), so the contract reads in one file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Final, Literal

from pydantic import ConfigDict, Field, model_validator

from promptsuite._schema import FrozenRecord, RecordFile, SuiteRunRecord
from promptsuite.models import GenerationParams

__all__ = [
    "OPTIMIZATION_VERSION",
    "AutoPlan",
    "Candidate",
    "CaseScore",
    "Demo",
    "DspySearch",
    "LimitReason",
    "ModelUsage",
    "OptimizationRun",
    "ReferenceSummary",
    "RepairedDemos",
    "RunnerCounts",
    "SampledCase",
    "Sampling",
    "SearchSettings",
    "SearchStop",
    "Spend",
    "SpendingLimits",
    "StopReason",
    "Verification",
    "mean",
    "mean_score",
    "read_run",
]

#: Version 3 typed what version 2 kept in a free-form ``metadata`` (settings, usage,
#: timings, the verification); version 2 added ``CaseScore.failed_checks``. Versions 1 and 2
#: are converted on reading.
OPTIMIZATION_VERSION: Final = 3


def mean(values: Sequence[float]) -> float:
    """The exact mean, 0 for no values."""
    return math.fsum(values) / len(values) if values else 0.0


class Demo(FrozenRecord):
    """One few-shot example of a candidate."""

    vars: dict[str, Any]
    """The case's template vars."""
    output: str
    """The reply shown."""


class CaseScore(FrozenRecord):
    """One case's result under one candidate (or one re-tested arm), over its repeats."""

    case_id: str
    """Suite case id."""
    split: str
    """``train``, ``val`` or ``test``."""
    tags: list[str]
    """The case's tags."""
    scores: list[float]
    """Score of each repeat (0..1)."""
    passes: list[bool]
    """Pass/fail of each repeat."""
    output: str = ""
    """The first repeat's output (for the report and the export)."""
    failed_checks: list[str] = Field(default_factory=list)
    """The checks the first repeat failed, by name (``type (metric)``)."""

    @property
    def score(self) -> float:
        """The mean score over the repeats (0 without any)."""
        return mean(self.scores)

    @property
    def passed(self) -> bool:
        """Whether every repeat passed (and there was one)."""
        return bool(self.passes) and all(self.passes)


def mean_score(scores: Sequence[CaseScore]) -> float:
    """The mean case score, 0 for none."""
    return mean([s.score for s in scores])


class Candidate(FrozenRecord):
    """One prompt candidate, as evaluated on the validation split."""

    index: int
    """Order of evaluation, from 0 (0 is the user's own prompt, the baseline)."""
    source: str
    """What proposed it (``baseline``, ``demos``, ``bootstrap``, ``copro``, ``mipro``...)."""
    instruction: str
    """The system instruction of the candidate."""
    demos: list[Demo]
    """Its few-shot examples."""
    val_score: float
    """Mean score over the validation cases."""
    cases: list[CaseScore]
    """Per-case results on the validation split."""
    lm_calls: int = 0
    """Task-model calls made by the whole run so far (cache hits excluded)."""
    prompt_model_calls: int = 0
    """Prompt-model calls so far."""
    tokens: int = 0
    """Tokens (prompt + completion) used by the run so far."""
    prompt_tokens_per_call: float = 0.0
    """Mean prompt tokens of one call with this candidate."""
    elapsed_s: float = 0.0
    """Seconds since the run started, when it was recorded."""
    val_cases: int = 0
    """Validation cases it was scored on: all of them, unless ``stopped`` says why not
    (a record from before racing holds every case; it is read with their count)."""
    stopped: str | None = None
    """Why it was scored on part of the validation cases only, in one line: racing found
    it clearly behind the best so far, or a spending limit ran out (None: scored on all)."""

    @model_validator(mode="before")
    @classmethod
    def _count_cases(cls, data: Any) -> Any:
        if isinstance(data, dict) and "val_cases" not in data:
            return {**data, "val_cases": len(data.get("cases") or ())}
        return data

    @property
    def complete(self) -> bool:
        """Whether it was scored on every validation case (only those compete for best)."""
        return self.stopped is None


class SpendingLimits(FrozenRecord):
    """What the sampling stage and the search may spend, in the user's units (None: no limit).

    The verification on the held-out test split runs after them and is not limited: without
    it there is no verdict (its calls are at most the test cases' repeats times the variants
    it verifies)."""

    max_calls: int | None = None
    """Model calls (cache hits are free)."""
    max_tokens: int | None = None
    """Prompt and completion tokens of those calls."""
    max_cost: float | None = None
    """US dollars at the models' prices (the embedded and scripted models cost nothing)."""

    @property
    def any(self) -> bool:
        """Whether any limit is set."""
        return (self.max_calls, self.max_tokens, self.max_cost) != (None, None, None)


class Spend(FrozenRecord):
    """What the sampling stage and the search spent, in the units of the limits."""

    calls: int = 0
    """Model calls made (cache hits are free)."""
    tokens: int = 0
    """Prompt and completion tokens of those calls."""
    cost: float | None = 0.0
    """US dollars at the models' prices; None when a model's price is unknown."""


LimitReason = Literal["max-calls", "max-tokens", "max-cost"]
"""The spending limit that ran out."""
StopReason = Literal["target", "plateau", "max-calls", "max-tokens", "max-cost"]
"""Why a search stopped before its budget of candidates."""


class SearchStop(FrozenRecord):
    """Why the search stopped before its budget of candidates."""

    reason: StopReason
    """``target``: a candidate clearly reached the target on validation; ``plateau``: the
    plateau was decided and flat; otherwise the spending limit that ran out."""
    detail: str
    """What happened, in one line."""
    candidates: int
    """Candidates recorded when it stopped (the baseline included)."""
    spent: Spend
    """What the sampling stage and the search had spent when it stopped."""
    per_candidate: Spend | None = None
    """What one candidate scored on every validation case cost, on average (None before
    one was): what a further candidate would cost."""


class SearchSettings(FrozenRecord):
    """What the search was asked to do, beyond the run's own fields."""

    variant: str
    """The prompt variant the search started from (the baseline)."""
    adapter: str
    """``suite`` (the user's template) or ``chat`` (DSPy's ChatAdapter)."""
    fractions: tuple[float, float, float]
    """Train, validation and test shares of the split."""
    max_demos: int
    """Most demos in a candidate."""
    params: GenerationParams
    """The suite's sampling parameters."""
    racing: bool = False
    """Whether candidates raced: scored on the validation cases in rounds, dropped when
    clearly behind the best so far, the search stopped once the target was clearly reached
    on validation or the plateau decided (the ``auto`` search's default)."""
    limits: SpendingLimits = SpendingLimits()
    """What the sampling stage and the search were allowed to spend."""


class ReferenceSummary(FrozenRecord):
    """The train cases' reference answers: the only source of the search's demos."""

    train_cases: int
    """Train cases."""
    with_reference: int
    """Of those, the ones with a reference answer."""
    stated: int
    """References stated in the suite (``reference:``)."""
    derived: int
    """References derived from the case's checks."""
    sampled: int = 0
    """References sampled from the task model (its best passing reply)."""
    teacher: int = 0
    """References sampled from the teacher model."""
    labelled: int = 0
    """References a person labelled as passing (``promptsuite review``)."""
    sources: dict[str, str] = Field(default_factory=dict)
    """Case id -> where its reference came from (``stated``, ``derived``, ``sampled``...)."""
    missing: dict[str, str] = Field(default_factory=dict)
    """Train case id -> why it has no reference."""


class RepairedDemos(FrozenRecord):
    """The model's own replies trimmed into demos, for a suite without references."""

    asked: int
    """Train cases the model was asked."""
    kept: int
    """Replies kept: trimmed to the checks' format, and passing them."""


class AutoPlan(FrozenRecord):
    """What the ``auto`` search planned to try."""

    demo_kind: str
    """How demos were chosen (``classification``, ``open``, ``repaired``...)."""
    labels: list[str]
    """The labels a classification task's demos cover."""
    rules: list[str]
    """Rules read off the checks."""
    patterns: list[str]
    """The instruction patterns tried."""
    repaired: RepairedDemos | None = None
    """The repaired demos, when the suite had no references to show."""


class DspySearch(FrozenRecord):
    """A DSPy optimizer's part of the search."""

    version: str
    """DSPy's version."""
    threads: int
    """DSPy evaluation threads."""
    prompt_model_is_task_model: bool
    """Whether one model both proposed and answered."""


class ModelUsage(FrozenRecord):
    """What one model cost the search (cache hits are free and counted apart)."""

    calls: int = 0
    """Calls made."""
    cache_hits: int = 0
    """Calls answered from the cache."""
    tokens: int = 0
    """Prompt and completion tokens of the calls made."""
    errors: int = 0
    """Calls that failed."""

    def plus(self, other: ModelUsage) -> ModelUsage:
        """Both usages together."""
        return ModelUsage(
            calls=self.calls + other.calls,
            cache_hits=self.cache_hits + other.cache_hits,
            tokens=self.tokens + other.tokens,
            errors=self.errors + other.errors,
        )


class SampledCase(FrozenRecord):
    """One train case's samples: the model's consistency on it, and the reference kept."""

    case_id: str
    """Suite case id."""
    tags: list[str]
    """The case's tags."""
    greedy_passed: bool | None
    """Whether the reply at the suite's own temperature passed (pass@1); None if it errored."""
    passes: list[bool]
    """Pass/fail of each sample of the task model, at the sampling temperature."""
    scores: list[float]
    """Score of each sample."""
    teacher_passes: list[bool] = Field(default_factory=list)
    """Pass/fail of each teacher sample (asked only when no task-model reply passed)."""
    reference: str | None = None
    """The best passing reply, kept as the case's reference; None when none passed."""
    source: Literal["sampled", "teacher"] | None = None
    """Whose reply the reference is."""
    sample: int | None = None
    """Which reply it is: -1 the reply at the suite's temperature, else the sample's index."""
    repaired: bool = False
    """Whether the reply was trimmed to the checks' format (its first sentence, the word
    limit) before it passed; a reply that passed as written is preferred."""
    reference_score: float | None = None
    """The reference's score under the case's checks."""
    failed_checks: dict[str, int] = Field(default_factory=dict)
    """Check (``type (metric)``) -> how many of the task model's replies failed it."""
    tried: int = 0
    """Replies scored before the reference was found (all of them when none passed)."""

    @property
    def pass_count(self) -> int:
        """Samples of the task model that passed."""
        return sum(self.passes)


class Sampling(FrozenRecord):
    """The sampling stage: K replies per train case without a reference, scored by its checks.

    Rejection sampling (DSPy's bootstrapping idea: a demo is a reply that passed the metric):
    the best passing reply of a case becomes its reference, for the search's demos and the
    fine-tune's rows. The same samples measure how consistent the model is on each case.
    """

    model: str
    """The task model sampled."""
    teacher: str | None
    """The teacher model asked where the task model never passed, if one was given."""
    samples: int
    """Samples per case (K)."""
    temperature: float
    """The sampling temperature."""
    seed: int
    """Seed of the samples (sample i uses seed + i where the provider takes a seed)."""
    rules: list[str] = Field(default_factory=list)
    """Rules read off the checks, added to your instruction for every reply asked (the
    samples come from your prompt as the search's first candidates would improve it)."""
    cases: list[SampledCase]
    """Every sampled train case, in the suite's order."""
    skipped: dict[str, str] = Field(default_factory=dict)
    """Train case id -> why it was not sampled (a conversation, or a spending limit that
    ran out)."""
    stopped: str | None = None
    """Why the stage stopped before sampling every case (a spending limit ran out; the
    cases left are in ``skipped``)."""
    settled: str | None = None
    """Why fewer than K samples were drawn per case: no reply passed, and the samples left
    could not give half the cases a passing one (None: every sample was drawn)."""
    usage: ModelUsage = ModelUsage()
    """What the task model's samples cost."""
    teacher_usage: ModelUsage = ModelUsage()
    """What the teacher's samples cost."""
    wall_s: float = 0.0
    """Seconds the stage took."""

    def references(self) -> dict[str, str]:
        """Case id -> the reply kept as its reference."""
        return {c.case_id: c.reference for c in self.cases if c.reference is not None}


class RunnerCounts(FrozenRecord):
    """The runner's own counters of a re-test on the held-out split."""

    model_calls: int
    """Calls made."""
    cache_hits: int
    """Calls answered from the cache."""
    errors: int
    """Cases that errored."""


class Verification(RunnerCounts):
    """The verification: the chosen variants re-run on the test split."""

    variants: list[str]
    """The variants verified, the baseline first."""


class OptimizationRun(SuiteRunRecord):
    """A whole optimization run: settings, split, candidates, and the verified result.

    Built up stage by stage (the search appends candidates, the verification adds test
    results), so it is not frozen; assignments are validated.
    """

    saved_as: ClassVar[RecordFile | None] = RecordFile(
        "run.json",
        "an optimization run record",
        "pass the run.json that promptsuite optimize writes",
    )
    model_config = ConfigDict(validate_assignment=True)

    version: Literal[3] = OPTIMIZATION_VERSION
    """Version of this record's shape."""
    prompt_path: str
    """Prompt file the variants come from and are written to."""
    model: str
    """Task model label."""
    prompt_model: str
    """Prompt-proposing model label."""
    optimizer: str
    """Optimizer name."""
    seed: int
    """Seed of the split and the search."""
    budget: int
    """Candidate budget."""
    target: float
    """Target score."""
    split: dict[str, str]
    """Case id -> ``train`` / ``val`` / ``test``."""
    settings: SearchSettings
    """The search's settings."""
    references: ReferenceSummary | None = None
    """The train cases' references (None in runs before references were recorded)."""
    sampling: Sampling | None = None
    """The sampling stage, when train cases without a reference were sampled."""
    candidates: list[Candidate] = Field(default_factory=list)
    """Every candidate in evaluation order."""
    test_results: dict[int, list[CaseScore]] = Field(default_factory=dict)
    """Candidate index -> per-case results on the held-out test split, through promptsuite's
    own runner (the verification)."""
    written_variants: list[str] = Field(default_factory=list)
    """Names of variants written back into the prompt file."""
    auto: AutoPlan | None = None
    """The ``auto`` search's plan (None for a DSPy optimizer alone)."""
    dspy: DspySearch | None = None
    """The DSPy optimizer's part (None for ``auto`` alone)."""
    task_model_usage: ModelUsage = ModelUsage()
    """What the task model cost the search."""
    prompt_model_usage: ModelUsage = ModelUsage()
    """What the prompt model cost the search."""
    optimizer_error: str | None = None
    """Why the optimizer stopped early, in one line (the candidates so far are kept)."""
    stopped: SearchStop | None = None
    """Why the sampling stage or the search stopped before the whole budget (None: it
    did not)."""
    spent: Spend = Spend()
    """What the sampling stage and the search spent, in the units of the limits."""
    search_s: float | None = None
    """Seconds the search took."""
    wall_s: float | None = None
    """Seconds the whole pipeline took, up to the analysis (None until it ends)."""
    verification: Verification | None = None
    """The verification's runner counters (None until it ran)."""
    applied: str | None = None
    """The variant made the prompt's default by ``--apply``, if any."""

    def best_candidate(self) -> Candidate:
        """The best candidate: the highest validation score among those scored on every
        validation case, the first on ties; the first candidate (your prompt) holds the
        title until one beats it.

        Raises:
            ValueError: No candidate was recorded.
        """
        if not self.candidates:
            raise ValueError("the run recorded no candidates")
        best = self.candidates[0]
        for candidate in self.candidates[1:]:
            if candidate.complete and candidate.val_score > best.val_score:
                best = candidate
        return best

    def details(self) -> dict[str, Any]:
        """The settings, usage and timings (what version 2 kept in ``metadata``), as JSON."""
        return self.model_dump(mode="json", include=set(_DETAILS))

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Convert a record of version 1 or 2 (its ``metadata`` dict) to the typed shape."""
        if not isinstance(data, dict) or data.get("version") not in (1, 2):
            return data
        values = {key: value for key, value in data.items() if key != "metadata"}
        meta = dict(data.get("metadata") or {})
        values["version"] = OPTIMIZATION_VERSION
        values["settings"] = {key: meta.pop(key) for key in _SETTINGS if key in meta}
        values["references"] = meta.pop("references", None)
        repaired = meta.pop("repaired_demos", None)
        if "auto" in meta:
            values["auto"] = {**meta.pop("auto"), "repaired": repaired}
        if "dspy_version" in meta:
            values["dspy"] = {
                "version": meta.pop("dspy_version"),
                "threads": meta.pop("threads", None),
                "prompt_model_is_task_model": meta.pop("prompt_model_is_task_model", None),
            }
        for key in ("task_model_usage", "prompt_model_usage"):
            if key in meta:
                values[key] = _usage(meta.pop(key))
        values["verification"] = meta.pop("verify", None)
        # Whatever is left (optimizer_error, search_s, wall_s, applied) kept its name; an
        # unknown key fails validation, naming it.
        values.update(meta)
        return values


_SETTINGS = ("variant", "adapter", "fractions", "max_demos", "params")
_DETAILS = frozenset(
    {
        "settings",
        "references",
        "auto",
        "dspy",
        "task_model_usage",
        "prompt_model_usage",
        "optimizer_error",
        "stopped",
        "spent",
        "search_s",
        "wall_s",
        "verification",
        "applied",
    }
)


def _usage(old: dict[str, Any]) -> dict[str, Any]:
    """A version 1/2 usage: DSPy's engines counted prompt and completion tokens apart."""
    usage: dict[str, Any] = {
        key: old[key] for key in ("calls", "cache_hits", "errors") if key in old
    }
    usage["tokens"] = old.get(
        "tokens", old.get("prompt_tokens", 0) + old.get("completion_tokens", 0)
    )
    return usage


read_run = OptimizationRun.read
"""Read an optimization run record (see :meth:`~promptsuite._schema.Record.read`)."""
