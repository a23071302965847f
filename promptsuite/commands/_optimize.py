"""``promptsuite optimize``: the command over :func:`promptsuite.optimize.optimize`.

It sits above both the optimizer and the fine-tune, so ``--finetune-record`` reads a
fine-tune record with the fine-tune's own reader.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TextIO

from promptsuite.cache import CacheMode
from promptsuite.commands._sampling import add_sampling_arguments, sampling_options
from promptsuite.config import RunSettings, add_cache_arguments, model_option
from promptsuite.errors import ConfigError
from promptsuite.models import ModelSpec
from promptsuite.optimize import (
    Candidate,
    OptimizationRun,
    PipelineOptions,
    ReferenceSummary,
    SpendingLimits,
    mean_score,
    optimize,
)
from promptsuite.optimize.analysis import LearningCurve
from promptsuite.optimize.search import (
    DEFAULT_FRACTIONS,
    DEFAULT_TARGET,
    JOINING,
    OPTIMIZERS,
    SearchOptions,
    fractions_text,
    parse_fractions,
)

__all__ = ["add_parser", "cmd_optimize"]

DEFAULT_OUT = Path("reports") / "optimize"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``promptsuite optimize`` on the CLI's subcommands."""
    parser = commands.add_parser(
        "optimize",
        help="search prompt variants with DSPy and verify the best on held-out cases",
        description="Search instructions and few-shot demos for a suite's prompt with a DSPy "
        "optimizer, scored by the suite's own checks; write the best candidates back as named "
        "variants and verify them on a held-out test split through the normal runner.",
    )
    parser.add_argument("suite", help="the suite file")
    parser.add_argument(
        "--model",
        help="task model: 'local', 'openai:gpt-4o-mini', or a YAML mapping such as "
        "'{provider: openai, model: llama3.2, base_url: \"http://localhost:11434/v1\"}' "
        "(default: the suite's first model)",
    )
    parser.add_argument(
        "--prompt-model", help="model that proposes instructions (default: the task model)"
    )
    parser.add_argument(
        "--optimizer",
        default="auto",
        choices=list(OPTIMIZERS),
        help="auto (default: demos from reference answers, rules from the checks; no "
        "proposer model needed), bootstrap (demos), copro (instructions), mipro (both; needs "
        "optuna), gepa (reflective instructions)",
    )
    parser.add_argument(
        "--budget", type=int, default=8, help="candidates to evaluate besides the baseline (8)"
    )
    parser.add_argument(
        "--target",
        type=float,
        default=DEFAULT_TARGET,
        help=f"the test score that is good enough ({DEFAULT_TARGET})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and search (0)")
    parser.add_argument(
        "--split",
        default=",".join(str(f) for f in DEFAULT_FRACTIONS),
        help="train,val,test shares (default 0.4,0.3,0.3); stratified by tag",
    )
    parser.add_argument(
        "--adapter",
        default="suite",
        choices=["suite", "chat"],
        help="suite: render the user's own template (default); chat: DSPy's ChatAdapter",
    )
    parser.add_argument(
        "--joins",
        default="copro",
        choices=list(JOINING),
        help="with auto and a --prompt-model other than the task model: the DSPy optimizer "
        "whose proposals join the search for half the budget (default copro)",
    )
    parser.add_argument("--max-demos", type=int, default=4, help="most demos per candidate (4)")
    add_sampling_arguments(parser, "they also measure how consistent the model is")
    parser.add_argument(
        "--no-racing",
        action="store_true",
        help="auto: score every candidate on every validation case and run the whole budget, "
        "and draw every sample (by default candidates race: one clearly behind the best so "
        "far is dropped early, and the search stops once the target is clearly reached or "
        "the plateau is decided; sampling stops once no reply passed and the gap is settled)",
    )
    parser.add_argument(
        "--max-calls",
        type=int,
        help="stop the sampling stage and the search after this many model calls (cache hits "
        "are free); the verification on the test split comes on top",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        help="stop them after this many prompt and completion tokens",
    )
    parser.add_argument(
        "--max-cost",
        type=float,
        help="stop them after this many US dollars at the models' prices (the embedded and "
        "scripted models cost nothing)",
    )
    parser.add_argument(
        "--keep", type=int, default=2, help="best candidates to write back as variants (2)"
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="make the winner the prompt's default, if it is no worse on the test split",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="leave the prompt file alone (verify in memory)"
    )
    add_cache_arguments(parser, "the search and its verification")
    parser.add_argument(
        "--out", default=str(DEFAULT_OUT), help=f"folder for run outputs ({DEFAULT_OUT})"
    )
    parser.add_argument(
        "--finetune-record",
        help="a promptsuite finetune record (finetune.json) with a learning curve: the advice "
        "takes the labelled cases the target needs from it instead of a fixed threshold",
    )
    parser.set_defaults(func=cmd_optimize)


def cmd_optimize(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run ``promptsuite optimize``; returns the exit code."""
    from promptsuite.suite import load_suite

    stream = out or sys.stderr

    def say(line: str) -> None:
        print(line, file=stream, flush=True)

    suite = load_suite(args.suite)
    settings = RunSettings(cache_mode=CacheMode.parse(args.cache), cache_path=Path(args.cache_path))
    model = _model_arg(args.model) if args.model else suite.models[0]
    prompt_model = _model_arg(args.prompt_model, "--prompt-model") if args.prompt_model else model
    fractions = parse_fractions(args.split)
    minimums = {
        "budget": (args.budget, 1),
        "max-demos": (args.max_demos, 0),
        "keep": (args.keep, 0),
        "max-calls": (args.max_calls, 1),
        "max-tokens": (args.max_tokens, 1),
    }
    for name, (value, least) in minimums.items():
        if value is not None and value < least:
            raise ConfigError(f"--{name} must be at least {least}, got {value}")
    if args.max_cost is not None and not args.max_cost > 0:
        raise ConfigError(f"--max-cost must be more than 0 US dollars, got {args.max_cost:g}")
    limits = SpendingLimits(
        max_calls=args.max_calls, max_tokens=args.max_tokens, max_cost=args.max_cost
    )
    sampling = sampling_options(args)
    out_dir = Path(args.out) / f"{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    say(
        f"optimize {suite.name}: {args.optimizer} on {model.display} (prompt model "
        f"{prompt_model.display}), budget {args.budget}, split {fractions_text(fractions)}, "
        f"seed {args.seed}"
        + ("" if args.optimizer == "auto" else f"; DSPy log: {out_dir / 'dspy.log'}")
    )
    if limits.any:
        say(f"limits: {limits_text(limits)} for the sampling stage and the search")

    def progress(candidate: Candidate, run: OptimizationRun) -> None:
        if candidate.index == 0:
            for line in reference_lines(run.references):
                say(line)
        best = run.best_candidate().val_score
        cases = "" if candidate.complete else f" on {candidate.val_cases} cases"
        say(
            f"  candidate {candidate.index:>3} {candidate.source:<9} val {candidate.val_score:.3f}"
            f"{cases} (best {best:.3f})  demos {len(candidate.demos)}  calls "
            f"{candidate.lm_calls}+{candidate.prompt_model_calls}  tokens {candidate.tokens}  "
            f"{candidate.elapsed_s:.0f}s"
        )
        if candidate.stopped:
            say(f"      stopped: {candidate.stopped}")

    search = SearchOptions(
        model=model,
        prompt_model=prompt_model,
        optimizer=args.optimizer,
        budget=args.budget,
        target=args.target,
        seed=args.seed,
        fractions=fractions,
        adapter=args.adapter,
        joins=args.joins,
        max_demos=args.max_demos,
        settings=settings,
        log=out_dir / "dspy.log",
        sampling=dataclasses.replace(sampling, early_stop=not args.no_racing),
        racing=not args.no_racing,
        limits=limits,
    )
    options = PipelineOptions(
        search=search,
        out_dir=out_dir,
        keep=args.keep,
        write=not args.no_write,
        apply=args.apply,
        learning_curve=read_learning_curve(args.finetune_record),
    )
    result = optimize(suite, options, say=say, progress=progress)
    run = result.run
    baseline = run.candidates[0]
    best = run.best_candidate()
    task, proposer = run.task_model_usage, run.prompt_model_usage
    dropped = sum(1 for c in run.candidates if not c.complete)
    say(
        f"candidates: {len(run.candidates)} (baseline + {len(run.candidates) - 1}"
        + (f"; {dropped} scored on part of the validation cases" if dropped else "")
        + ")"
    )
    if run.stopped is not None:
        say(f"the search stopped early: {run.stopped.detail}")
    say(
        f"validation: baseline {baseline.val_score:.3f}, best {best.val_score:.3f} "
        f"(candidate {best.index}, {best.source})"
    )
    say(
        f"test: baseline {mean_score(run.test_results[0]):.3f}"
        + "".join(
            f", {p.name} {mean_score(run.test_results[p.candidate.index]):.3f}"
            for p in result.picks
        )
    )
    say(
        f"model calls: task {task.calls} (+{task.cache_hits} cached), "
        f"prompt model {proposer.calls} (+{proposer.cache_hits} cached); "
        f"wall time {run.wall_s or 0.0:.0f}s"
    )
    if result.problem:
        say(result.problem)
    else:
        say(f"verdict: {result.verdict[0]}")
        for reason in result.verdict[1:]:
            say(f"  - {reason}")
        say(f"report: {result.report_paths[0]}")
    say(f"run record: {result.run_path}")
    return 0


def limits_text(limits: SpendingLimits) -> str:
    """``--max-calls 200, --max-cost 0.5``: the limits that are set."""
    shown = {
        "--max-calls": limits.max_calls,
        "--max-tokens": limits.max_tokens,
        "--max-cost": limits.max_cost,
    }
    return ", ".join(f"{name} {value:g}" for name, value in shown.items() if value is not None)


def reference_lines(references: ReferenceSummary | None) -> list[str]:
    """Which train cases have a reference answer, and where it came from (the demos' source)."""
    if references is None:
        return []
    counts = {
        "stated": references.stated,
        "derived from their checks": references.derived,
        "labelled by a person": references.labelled,
        "sampled from the model": references.sampled,
        "from the teacher": references.teacher,
    }
    kinds = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "none"
    lines = [
        f"references: {references.with_reference} of {references.train_cases} train "
        f"cases ({kinds}); only these become demos, never a validation or test case"
    ]
    missing = references.missing
    if missing:
        case_id, why = next(iter(missing.items()))
        lines.append(f"  {len(missing)} train cases have none, e.g. {case_id}: {why}")
    return lines


def read_learning_curve(path: str | None) -> LearningCurve | None:
    """The learning curve of a ``promptsuite finetune`` record, or None without a path.

    Raises:
        ConfigError: The file is missing, not a fine-tune record, or has no learning curve.
    """
    if path is None:
        return None
    from promptsuite.finetune import read_finetune_record

    try:
        record = read_finetune_record(Path(path))
    except ConfigError as exc:
        raise ConfigError(f"--finetune-record {exc}") from None
    judgement = record.judgement
    if judgement is None or judgement.curve is None:
        raise ConfigError(
            f"--finetune-record {path}: the fine-tune record has no learning curve; pass the "
            "finetune.json of a `promptsuite finetune --curve` run"
        )
    return judgement.curve


def _model_arg(text: str, option: str = "--model") -> ModelSpec:
    """``provider:model``, or a YAML mapping such as ``{provider: openai, base_url: ...}``."""
    return model_option(text, option)
