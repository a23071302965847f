"""What ``promptsuite finetune`` records: one versioned pydantic record (``finetune.json``).

Each stage fills its own typed part: the training (:class:`Training`, and a
:class:`CurveRun` per share of the learning curve), the re-test on the held-out split
(:class:`RetestedArms`), the agreement of the training stack with llama.cpp
(:class:`Agreement`) and the verdict on the advice (:class:`Judgement`).
:func:`read_finetune_record` is the one reader of the file (``promptsuite optimize
--finetune-record`` uses it); a version 1 record is converted where it is validated.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal

from pydantic import ConfigDict, Field, model_validator

from promptsuite._schema import FrozenRecord, RecordFile, SuiteRunRecord
from promptsuite.finetune._config import TrainConfig
from promptsuite.optimize import CaseScore, RunnerCounts, Sampling
from promptsuite.optimize.analysis import LearningCurve, Verdict

#: Version 2 groups the re-test, the agreement and the judgement, each filled by its stage;
#: version 1 (the same parts side by side) is converted on reading.
RECORD_VERSION: Final = 2

ArmName = Literal["baseline", "prompt", "finetuned", "both"]
"""The arms of the re-test: your prompt and the best prompt, on the base model and on the
fine-tuned one."""

AdviceFinding = Literal["confirmed", "refuted", "inconclusive"]
"""What the held-out cases say of the advice to fine-tune: confirmed when the gain's interval
is above 0, refuted when it is at or below 0, inconclusive otherwise."""


class ModelFile(FrozenRecord):
    """The base GGUF model."""

    file: str
    """Its file name."""
    size: int
    """Its size in bytes."""


class AdapterFile(FrozenRecord):
    """The GGUF adapter written."""

    path: str
    """Where it is."""
    sha256: str
    """Its digest."""
    bytes: int
    """Its size."""
    matrices: int
    """Matrices it changes."""


class RowCounts(FrozenRecord):
    """The labelled rows, by split."""

    train: int
    """Train rows (learnt from)."""
    val: int
    """Validation rows (early stopping)."""
    test: int
    """Held-out test cases (never given to the trainer)."""
    train_ids: list[str]
    """Case id of each train row."""
    val_ids: list[str]
    """Case id of each validation row."""
    test_ids: list[str]
    """The held-out case ids."""
    missing: dict[str, str]
    """Train/validation case id -> why it has no reference answer."""
    sources: dict[str, int] = Field(default_factory=dict)
    """Where the rows' answers came from (``stated``, ``derived``, ``sampled``...) -> rows."""


class Training(FrozenRecord):
    """What one training run did."""

    steps: int
    """Optimizer steps taken."""
    planned_steps: int
    """Steps the epochs would take without early stopping or budget."""
    losses: list[float]
    """Training loss of each step (mean over the batch's reply tokens)."""
    val_losses: list[tuple[int, float]]
    """``(step, validation loss)`` after each epoch (empty without validation rows)."""
    best_step: int
    """The step whose weights were kept."""
    stopped: str
    """Why training ended (``epochs``, ``early-stopping``, ``max-steps``, ``time``)."""
    train_s: float
    """Seconds of training (validation included)."""
    step_s: float
    """Mean seconds per optimizer step."""
    train_tokens: int
    """Tokens seen by training (all steps, prompt and reply)."""
    target_tokens: int
    """Reply tokens the loss was computed on, per epoch."""
    trainable_params: int
    """LoRA parameters trained."""
    adapter_path: str
    """The GGUF adapter written."""
    adapted: int
    """Matrices the adapter changes."""
    peak_rss_mb: float
    """Peak resident memory of the process so far."""

    @property
    def kept_epoch(self) -> int | None:
        """The epoch whose weights were kept (1-based; None without validation rows)."""
        return next(
            (i for i, (step, _) in enumerate(self.val_losses, start=1) if step == self.best_step),
            None,
        )


class CurveRun(FrozenRecord):
    """One training of the learning curve, on a share of the train rows."""

    share: float
    """The share of the train rows."""
    rows: int
    """Train rows it learnt from."""
    steps: int
    """Optimizer steps taken."""
    train_s: float
    """Seconds of training."""
    step_s: float
    """Mean seconds per step."""
    stopped: str
    """Why training ended."""
    best_step: int
    """The step whose weights were kept."""
    peak_rss_mb: float
    """Peak resident memory of the process so far."""
    losses: list[float]
    """Training loss of each step."""
    adapter: str
    """The GGUF adapter written."""


class Arm(FrozenRecord):
    """One arm of the re-test: a model and a prompt variant."""

    model: str
    """The model (the base model's label, or the fine-tuned model's ``file+lora:adapter``)."""
    variant: str
    """The prompt variant."""


class RetestCounts(FrozenRecord):
    """The runner's counters of the re-test, by model."""

    base: RunnerCounts
    """On the base model."""
    tuned: RunnerCounts
    """On the fine-tuned model."""


class RetestedArms(FrozenRecord):
    """The held-out test split, run by the normal runner on every arm."""

    arms: dict[ArmName, Arm]
    """Arm name -> its model and variant (``both`` only with a best prompt)."""
    test: dict[ArmName, list[CaseScore]]
    """Arm name -> its per-case results."""
    runner: RetestCounts
    """The runner's counters."""
    curve_scores: dict[float, float]
    """Share of the train rows -> the mean test score of the adapter trained on it."""


class ArmConsistency(FrozenRecord):
    """One arm's consistency: each test case asked K times at a sampling temperature."""

    cases: int
    """Test cases."""
    pass_rate: float
    """Mean per-case share of passing replies."""
    always: int
    """Cases every reply passed (consistent)."""
    sometimes: int
    """Cases some replies passed."""
    never: int
    """Cases no reply passed."""


class ConsistencyRetest(FrozenRecord):
    """The held-out cases asked K times at temperature > 0: is the model consistent?

    Prompting leaves a small model inconsistent (a case passes in some samples, not in
    others); fine-tuning should make it consistent. ``prompt`` is the best prompt on the base
    model, ``finetuned`` the fine-tuned model with your prompt.
    """

    samples: int
    """Replies per case (K)."""
    temperature: float
    """Their temperature."""
    test: dict[ArmName, list[CaseScore]]
    """Arm name -> each case's K replies' scores and passes."""
    arms: dict[ArmName, ArmConsistency]
    """Arm name -> its consistency."""
    comparison: ArmComparison
    """Fine-tuned against the best prompt, paired: mean score over the K replies, and cases
    fixed / broken counted on passing every reply."""
    runner: RunnerCounts
    """The runner's counters of both arms."""


class Difference(FrozenRecord):
    """A test case the two stacks answered differently."""

    case_id: str
    """The case."""
    transformers: str
    """The training stack's reply (with the LoRA)."""
    llama_cpp: str
    """llama.cpp's reply (with the GGUF adapter)."""


class Agreement(FrozenRecord):
    """The training stack's greedy replies against llama.cpp's, on the test cases."""

    cases: int
    """Cases compared."""
    identical: int
    """Replies identical."""
    identical_stripped: int
    """Replies identical up to surrounding whitespace."""
    transformers_s: float
    """Seconds transformers took to answer."""
    differences: list[Difference]
    """The first differences (up to 10)."""


class ArmComparison(FrozenRecord):
    """One arm against another on the cases both have, paired by case id."""

    n_cases: int
    """Cases compared."""
    reference_score: float
    """The reference arm's mean score."""
    candidate_score: float
    """The candidate arm's mean score."""
    reference_pass_rate: float
    """The reference arm's pass rate."""
    candidate_pass_rate: float
    """The candidate arm's pass rate."""
    gain: float
    """Mean per-case score gain, candidate - reference."""
    ci_low: float
    """Lower bound of its paired bootstrap 95% interval."""
    ci_high: float
    """Upper bound of that interval."""
    p_value_mcnemar: float
    """Exact McNemar p-value of the flips."""
    fixed: list[str]
    """Cases the candidate fixed (fail -> pass)."""
    broken: list[str]
    """Cases the candidate broke (pass -> fail)."""


class Comparisons(FrozenRecord):
    """The paired comparisons the verdict rests on."""

    finetuned_vs_prompt: ArmComparison
    """The fine-tuned model against the best prompt: the verdict."""
    both_vs_prompt: ArmComparison | None = None
    """The best prompt on the fine-tuned model against it on the base model."""
    finetuned_vs_baseline: ArmComparison
    """The fine-tuned model against your prompt on the base model."""


class TagRow(FrozenRecord):
    """One tag: its cases, and each arm's mean score over them (None: arm not run)."""

    tag: str
    """The tag (``(untagged)`` for cases without one)."""
    cases: int
    """Test cases carrying it."""
    baseline: float | None = None
    """Your prompt on the base model."""
    prompt: float | None = None
    """The best prompt on the base model."""
    finetuned: float | None = None
    """Your prompt on the fine-tuned model."""
    both: float | None = None
    """The best prompt on the fine-tuned model."""

    def score(self, arm: ArmName) -> float | None:
        """The arm's mean score on this tag's cases."""
        value: float | None = getattr(self, arm)
        return value


class PromptTokens(FrozenRecord):
    """What a call costs at inference: the best prompt carries its demos in every call, the
    fine-tuned model answers your own prompt."""

    your_prompt: float
    """Mean prompt tokens of your prompt."""
    best_prompt: float
    """Mean prompt tokens of the best prompt."""


class Judgement(FrozenRecord):
    """The verdict on the advice, and the advice again with the learning curve."""

    comparisons: Comparisons
    """The paired comparisons."""
    verdict: AdviceFinding
    """What the fine-tuned model against the best prompt says of the advice."""
    per_tag: list[TagRow]
    """Each tag's mean score per arm."""
    prompt_tokens_per_call: PromptTokens | None = None
    """Prompt tokens per call (with an optimization run)."""
    advice_before: Verdict | None = None
    """The optimization's advice (None without an optimization run)."""
    curve: LearningCurve | None = None
    """The learning curve (with ``--curve``)."""
    labelled_now: int | None = None
    """Train and validation cases now, beside the curve's ``cases_needed``."""
    advice_after: Verdict | None = None
    """The advice re-derived with the learning curve (with an optimization run)."""


class FinetuneRecord(SuiteRunRecord):
    """What ``finetune.json`` holds."""

    saved_as: ClassVar[RecordFile | None] = RecordFile(
        "finetune.json",
        "a fine-tune record",
        "pass the finetune.json that promptsuite finetune writes (or its folder)",
    )

    model_config = ConfigDict(frozen=True)

    version: Literal[2] = RECORD_VERSION
    """Version of this record's shape."""
    base_model: ModelFile
    """The base model."""
    adapter: AdapterFile
    """The adapter trained on every train row."""
    seed: int
    """Seed of the split and the training."""
    target: float
    """The score aimed at."""
    optimization: str | None
    """The optimization report judged (None without one)."""
    variant: str
    """Your prompt variant (the rows' template)."""
    best_variant: str | None
    """The best prompt's variant (None: none was written, or no optimization)."""
    rows: RowCounts
    """The labelled rows."""
    config: TrainConfig
    """The training settings."""
    load_s: float
    """Seconds transformers took to load the GGUF."""
    training: Training
    """The training on every train row."""
    curve_runs: list[CurveRun]
    """The learning curve's trainings."""
    command: str
    """The command line that reproduces it."""
    sampling: Sampling | None = None
    """The sampling stage that gave train cases without a reference their rows (the
    optimization run's, or this command's own)."""
    retest: RetestedArms | None = None
    """The held-out re-test (None with ``--no-test``)."""
    consistency: ConsistencyRetest | None = None
    """The held-out re-test at a sampling temperature, K replies per case (None with
    ``--no-test`` or ``--samples 0``)."""
    agreement: Agreement | None = None
    """Transformers against llama.cpp (None with ``--no-test``)."""
    judgement: Judgement | None = None
    """The verdict on the advice (None with ``--no-test``)."""
    peak_rss_mb: float
    """Peak resident memory of the whole command."""
    total_s: float
    """Seconds of the whole command."""

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Convert a version 1 record: its parts side by side, the curve's ``labelled_now``
        inside the curve, the prompt tokens keyed ``"your prompt"`` / ``"best prompt"``."""
        if not isinstance(data, dict) or data.get("version") != 1:
            return data
        values = {**data, "version": RECORD_VERSION}
        retest = {key: values.pop(key) for key in _RETEST if key in values}
        judgement = {key: values.pop(key) for key in _JUDGEMENT if key in values}
        if isinstance(judgement.get("curve"), dict):
            curve = dict(judgement["curve"])
            judgement["labelled_now"] = curve.pop("labelled_now", None)
            judgement["curve"] = curve
        tokens = judgement.get("prompt_tokens_per_call")
        if isinstance(tokens, dict):
            judgement["prompt_tokens_per_call"] = {
                key.replace(" ", "_"): value for key, value in tokens.items()
            }
        values["retest"] = retest or None
        values["judgement"] = judgement or None
        return values


_RETEST = ("arms", "test", "runner", "curve_scores")
_JUDGEMENT = (
    "comparisons",
    "verdict",
    "per_tag",
    "prompt_tokens_per_call",
    "advice_before",
    "curve",
    "advice_after",
)

read_finetune_record = FinetuneRecord.read
"""Read a fine-tune record (see :meth:`~promptsuite._schema.Record.read`)."""
