"""What a search is asked to do (the optimizer, the models, the budget, the split), and what
its stages work on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from promptsuite.config import RunSettings
from promptsuite.models import ModelSpec
from promptsuite.optimize._records import Candidate, OptimizationRun, SpendingLimits
from promptsuite.optimize._shape import PromptShape
from promptsuite.optimize.search._sampling import SamplingOptions
from promptsuite.optimize.search._split import DEFAULT_FRACTIONS
from promptsuite.references import Reference
from promptsuite.suite import Suite

Progress = Callable[[Candidate, OptimizationRun], None]
"""Called with each candidate as the search records it, and the run so far."""

#: Optimizer name -> what it searches.
OPTIMIZERS: dict[str, str] = {
    "auto": "no proposer model needed: labelled demos from the train cases' reference "
    "answers, rules read off the checks, the rules the baseline broke, instruction patterns "
    "(the default; with a distinct --prompt-model, COPRO proposals join it)",
    "bootstrap": "few-shot demos bootstrapped from passing train cases, random search "
    "(BootstrapFewShotWithRandomSearch)",
    "copro": "instructions proposed by the prompt model, coordinate ascent (COPRO)",
    "mipro": "instructions and demos, Bayesian search (MIPROv2; needs optuna)",
    "gepa": "instructions by reflection on the checks' feedback (GEPA)",
}
#: The optimizers whose proposals may join an ``auto`` search.
JOINING = ("copro", "mipro", "gepa")
OPTIMIZE_INSTALL = 'pip install "promptsuite[optimize]"'
#: The held-out test score that counts as "prompting fixed it".
DEFAULT_TARGET = 0.8


@dataclass(frozen=True)
class SearchOptions:
    """Settings of one search.

    Attributes:
        model: The task model (default: the suite's first model).
        prompt_model: The prompt-proposing model (default: the task model).
        optimizer: One of :data:`OPTIMIZERS`.
        budget: Candidates to evaluate on the validation split, besides the baseline
            (each optimizer's own knobs are derived from it; see docs/optimize.md).
        target: The validation score that would be good enough (stops the bootstrap
            search early; the analysis judges the run against it).
        seed: Seed of the split and of the optimizer.
        fractions: Shares of train, validation and test.
        adapter: ``suite`` (the user's template) or ``chat`` (DSPy's ChatAdapter).
        joins: The DSPy optimizer whose proposals join an ``auto`` search when a prompt
            model other than the task model is given (``copro``, ``mipro`` or ``gepa``).
        max_demos: Most demos in a candidate (a classification task's ``auto`` candidates
            show one per label instead, up to 16).
        settings: Cache and concurrency settings of the runner.
        threads: DSPy evaluation threads (default: 1 for the embedded model, else 4).
        log: Where DSPy's own output goes (default: discarded).
        sampling: The sampling stage's samples, temperature and teacher (references for
            train cases that have none).
        racing: Race the ``auto`` search's candidates (:mod:`._racing`): score them on the
            validation cases in rounds, drop one clearly behind the best so far, and stop
            once the target is clearly reached on validation or the plateau is decided.
            False scores every candidate on every case and runs the whole budget.
        limits: What the sampling stage and the search may spend (calls, tokens, dollars).
    """

    model: ModelSpec | None = None
    prompt_model: ModelSpec | None = None
    optimizer: str = "auto"
    budget: int = 8
    target: float = DEFAULT_TARGET
    seed: int = 0
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    adapter: str = "suite"
    joins: str = "copro"
    max_demos: int = 4
    settings: RunSettings = field(default_factory=RunSettings)
    threads: int | None = None
    log: Path | None = None
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    racing: bool = True
    limits: SpendingLimits = field(default_factory=SpendingLimits)


@dataclass(frozen=True)
class SearchSetup:
    """What every stage of a search works on.

    Attributes:
        suite: The suite.
        run: The run the stage records its candidates into; its split decides train and
            validation.
        shape: The variant the stage starts from.
        references: Reference answers of the **train** cases (the demos' answers).
        model: The task model.
        progress: Called with each candidate as it is recorded.
    """

    suite: Suite
    run: OptimizationRun
    shape: PromptShape
    references: Mapping[str, Reference]
    model: ModelSpec
    progress: Progress | None = None
