"""The DSPy optimizers a search can run, each driven from the search's budget.

Each runner builds one DSPy optimizer from :class:`OptimizerContext` and compiles the
student; candidates are recorded by the metric as they are scored, not returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptsuite.errors import MissingDependency
from promptsuite.optimize.search._options import OPTIMIZE_INSTALL, SearchOptions

#: Generation limit of the prompt-proposing model.
PROMPT_MAX_TOKENS = 512


@dataclass
class OptimizerContext:
    """What each optimizer runner is given: the program, the data, the metric, the models."""

    options: SearchOptions
    student: Any
    trainset: list[Any]
    valset: list[Any]
    metric: Any
    feedback_metric: Any
    task_lm: Any
    prompt_lm: Any
    threads: int
    labelled: bool = False


def _bootstrap(dspy: Any, ctx: OptimizerContext) -> None:
    optimizer = dspy.BootstrapFewShotWithRandomSearch(
        metric=ctx.metric,
        max_bootstrapped_demos=ctx.options.max_demos,
        max_labeled_demos=ctx.options.max_demos if ctx.labelled else 0,
        # Seed -3 is zero-shot (the baseline again); -2 shows labelled demos (the train
        # cases' reference answers), when there are any.
        num_candidate_programs=max(ctx.options.budget - 1, 1),
        num_threads=ctx.threads,
        # DSPy reports evaluation scores in percent.
        stop_at_score=ctx.options.target * 100,
    )
    optimizer.compile(ctx.student, trainset=ctx.trainset, valset=ctx.valset)


def _copro(dspy: Any, ctx: OptimizerContext) -> None:
    depth = 2 if ctx.options.budget >= 4 else 1
    breadth = max(2, math.ceil((ctx.options.budget + 1) / depth))
    optimizer = dspy.COPRO(
        prompt_model=ctx.prompt_lm,
        metric=ctx.metric,
        breadth=breadth,
        depth=depth,
        init_temperature=1.4,
    )
    # COPRO only scores candidates on the set it is given: the validation split.
    optimizer.compile(
        ctx.student,
        trainset=ctx.valset,
        eval_kwargs={"num_threads": ctx.threads, "display_progress": False},
    )


def _mipro(dspy: Any, ctx: OptimizerContext) -> None:
    try:
        import optuna  # noqa: F401
    except ImportError as exc:
        raise MissingDependency("optuna (needed by MIPROv2)", OPTIMIZE_INSTALL) from exc
    optimizer = dspy.MIPROv2(
        metric=ctx.metric,
        prompt_model=ctx.prompt_lm,
        task_model=ctx.task_lm,
        max_bootstrapped_demos=ctx.options.max_demos,
        max_labeled_demos=ctx.options.max_demos if ctx.labelled else 0,
        auto=None,
        num_candidates=max(2, math.ceil(ctx.options.budget / 2)),
        num_threads=ctx.threads,
        seed=ctx.options.seed,
        verbose=False,
    )
    optimizer.compile(
        ctx.student,
        trainset=ctx.trainset,
        valset=ctx.valset,
        num_trials=ctx.options.budget,
        minibatch=False,
    )


def _gepa(dspy: Any, ctx: OptimizerContext) -> None:
    minibatch = min(3, len(ctx.trainset))
    optimizer = dspy.GEPA(
        metric=ctx.feedback_metric,
        max_metric_calls=ctx.options.budget * (len(ctx.valset) + 2 * minibatch) + len(ctx.valset),
        reflection_lm=ctx.prompt_lm,
        reflection_minibatch_size=minibatch,
        num_threads=ctx.threads,
        seed=ctx.options.seed,
        use_merge=False,
    )
    optimizer.compile(ctx.student, trainset=ctx.trainset, valset=ctx.valset)


#: Optimizer name -> the function that runs it: ``runner(dspy, context)``.
RUNNERS: dict[str, Callable[[Any, OptimizerContext], None]] = {
    "bootstrap": _bootstrap,
    "copro": _copro,
    "mipro": _mipro,
    "gepa": _gepa,
}
