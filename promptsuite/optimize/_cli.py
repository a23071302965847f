"""``promptsuite optimize``: search, write back, verify on the test split, analyse, report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from promptsuite.cache import CacheMode
from promptsuite.config import DEFAULT_CACHE_PATH, RunSettings
from promptsuite.errors import ConfigError, PromptsuiteError
from promptsuite.models._base import ModelSpec
from promptsuite.optimize._records import Candidate, CaseScore, OptimizationRun
from promptsuite.optimize._shape import PromptShape
from promptsuite.optimize._split import DEFAULT_FRACTIONS, fractions_text, parse_fractions
from promptsuite.suite import Suite, Variant

__all__ = ["add_parser", "cmd_optimize"]

DEFAULT_OUT = Path("reports") / "optimize"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``promptsuite optimize`` on the CLI's subcommands."""
    from promptsuite.optimize._search import OPTIMIZERS

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
        default="bootstrap",
        choices=sorted(OPTIMIZERS),
        help="bootstrap (demos), copro (instructions), mipro (both; needs optuna), gepa "
        "(reflective instructions); default bootstrap",
    )
    parser.add_argument(
        "--budget", type=int, default=8, help="candidates to evaluate besides the baseline (8)"
    )
    parser.add_argument(
        "--target", type=float, default=0.9, help="validation score that is good enough (0.9)"
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
    parser.add_argument("--max-demos", type=int, default=4, help="most demos per candidate (4)")
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
    parser.add_argument(
        "--cache",
        default="use",
        choices=[m.value for m in CacheMode],
        help="response cache mode (default use)",
    )
    parser.add_argument(
        "--cache-path", default=str(DEFAULT_CACHE_PATH), help=f"cache file ({DEFAULT_CACHE_PATH})"
    )
    parser.add_argument(
        "--out", default=str(DEFAULT_OUT), help=f"folder for run outputs ({DEFAULT_OUT})"
    )
    parser.set_defaults(func=cmd_optimize)


@dataclass(frozen=True)
class _Pick:
    candidate: Candidate
    name: str
    variant: Variant


def cmd_optimize(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run ``promptsuite optimize``; returns the exit code."""
    from promptsuite.optimize._search import SearchOptions, run_search
    from promptsuite.suite import load_suite

    stream = out or sys.stderr
    started = time.perf_counter()
    suite = load_suite(args.suite)
    settings = RunSettings(cache_mode=CacheMode.parse(args.cache), cache_path=Path(args.cache_path))
    model = _model_arg(args.model) if args.model else suite.models[0]
    prompt_model = _model_arg(args.prompt_model) if args.prompt_model else model
    fractions = parse_fractions(args.split)
    minimums = {
        "budget": (args.budget, 1),
        "max-demos": (args.max_demos, 0),
        "keep": (args.keep, 0),
    }
    for name, (value, least) in minimums.items():
        if value < least:
            raise ConfigError(f"--{name} must be at least {least}, got {value}")
    out_dir = Path(args.out) / f"{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"optimize {suite.name}: {args.optimizer} on {model.display} (prompt model "
        f"{prompt_model.display}), budget {args.budget}, split {fractions_text(fractions)}, "
        f"seed {args.seed}; DSPy log: {out_dir / 'dspy.log'}",
        file=stream,
        flush=True,
    )

    def progress(candidate: Candidate, run: OptimizationRun) -> None:
        best = max(c.val_score for c in run.candidates)
        print(
            f"  candidate {candidate.index:>3} {candidate.source:<9} val {candidate.val_score:.3f} "
            f"(best {best:.3f})  demos {len(candidate.demos)}  calls {candidate.lm_calls}"
            f"+{candidate.prompt_model_calls}  tokens {candidate.tokens}  "
            f"{candidate.elapsed_s:.0f}s",
            file=stream,
            flush=True,
        )

    outcome = run_search(
        suite,
        SearchOptions(
            model=model,
            prompt_model=prompt_model,
            optimizer=args.optimizer,
            budget=args.budget,
            target=args.target,
            seed=args.seed,
            fractions=fractions,
            adapter=args.adapter,
            max_demos=args.max_demos,
            settings=settings,
            log=out_dir / "dspy.log",
        ),
        progress=progress,
    )
    run = outcome.run
    if "optimizer_error" in run.metadata:
        print(
            f"the optimizer stopped early ({run.metadata['optimizer_error']}); continuing "
            f"with the {len(run.candidates)} candidate(s) recorded",
            file=stream,
        )
    run_path = out_dir / "run.json"
    _save(run, run_path)
    picks = _pick(run, outcome.shape, suite, args.keep, args.optimizer)
    written = _write_back(suite, picks, args.no_write, stream)
    run.written_variants = [p.name for p in picks] if written else []
    verify_suite = _reload(suite) if written else suite
    _verify(run, verify_suite, outcome.shape.variant, picks, model, settings, stream)
    if args.apply:
        _apply(run, suite, picks, written, stream)
    run.metadata["wall_s"] = round(time.perf_counter() - started, 3)
    _save(run, run_path)
    _summary(run, picks, stream)
    _analyse(run, suite, out_dir, args.seed, stream)
    print(f"run record: {run_path}", file=stream)
    return 0


def _model_arg(text: str) -> ModelSpec:
    """``provider:model``, or a YAML mapping such as ``{provider: openai, base_url: ...}``."""
    import yaml

    from promptsuite.models._registry import parse_model_spec

    if not text.lstrip().startswith("{"):
        return parse_model_spec(text)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"model {text!r} is not a valid YAML mapping ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"model {text!r}: expected a mapping such as {{provider: openai}}")
    return parse_model_spec(value)


def _save(run: OptimizationRun, path: Path) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(run.to_dict(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    temp.replace(path)


def _pick(
    run: OptimizationRun, shape: PromptShape, suite: Suite, keep: int, optimizer: str
) -> list[_Pick]:
    """The best candidates that beat the baseline on validation, best first."""
    from promptsuite.optimize._shape import candidate_templates
    from promptsuite.optimize._writeback import unique_names

    baseline = run.candidates[0]
    better = sorted(
        (c for c in run.candidates[1:] if c.val_score > baseline.val_score),
        key=lambda c: (-c.val_score, c.index),
    )[:keep]
    names = unique_names(suite.prompt.variants, f"opt-{optimizer}", len(better))
    picks = []
    for candidate, name in zip(better, names, strict=True):
        description = (
            f"promptsuite optimize ({optimizer}, seed {run.seed}): candidate {candidate.index}, "
            f"val {candidate.val_score:.3f} vs baseline {baseline.val_score:.3f}"
        )
        templates = candidate_templates(shape, candidate.instruction, candidate.demos)
        picks.append(_Pick(candidate, name, Variant(name, templates, description)))
    return picks


def _write_back(suite: Suite, picks: Sequence[_Pick], no_write: bool, stream: TextIO) -> bool:
    from promptsuite.optimize._writeback import NewVariant, write_variants

    if not picks:
        print("no candidate beat the baseline on validation; nothing written", file=stream)
        return False
    if no_write or suite.prompt.file is None:
        why = "--no-write" if no_write else "the suite's prompt is inline"
        print(f"not writing variants ({why}); verifying them in memory", file=stream)
        return False
    variants = [NewVariant(p.name, p.variant.templates, p.variant.description or "") for p in picks]
    write_variants(suite.prompt.file, variants)
    names = ", ".join(p.name for p in picks)
    print(f"wrote variant(s) {names} to {suite.prompt.file}", file=stream)
    return True


def _reload(suite: Suite) -> Suite:
    from promptsuite.suite import load_suite

    return load_suite(suite.path)


def _verify(
    run: OptimizationRun,
    suite: Suite,
    baseline_variant: str,
    picks: Sequence[_Pick],
    model: ModelSpec,
    settings: RunSettings,
    stream: TextIO,
) -> None:
    from promptsuite.optimize._verify import verify_on_test

    variants = {baseline_variant: suite.prompt.variants[baseline_variant]}
    for pick in picks:
        variants[pick.name] = suite.prompt.variants.get(pick.name, pick.variant)
    results, counters = verify_on_test(suite, run.split, variants, model, settings)
    run.test_results[0] = results[baseline_variant]
    for pick in picks:
        run.test_results[pick.candidate.index] = results[pick.name]
    run.metadata["verify"] = {**counters, "variants": list(variants)}
    print(
        f"verified on {len(results[baseline_variant])} test cases with the runner "
        f"({counters['model_calls']} model calls, {counters['cache_hits']} cache hits)",
        file=stream,
    )


def _mean(scores: Sequence[CaseScore]) -> float:
    return sum(s.score for s in scores) / len(scores) if scores else 0.0


def _apply(
    run: OptimizationRun, suite: Suite, picks: Sequence[_Pick], written: bool, stream: TextIO
) -> None:
    from promptsuite.optimize._writeback import write_default

    if not written:
        print("--apply: no variant was written, the default stays", file=stream)
        return
    winner = picks[0]
    baseline_test = _mean(run.test_results[0])
    winner_test = _mean(run.test_results[winner.candidate.index])
    if winner_test < baseline_test:
        print(
            f"--apply refused: {winner.name} scores {winner_test:.3f} on the test split, below "
            f"the baseline's {baseline_test:.3f}; the default stays",
            file=stream,
        )
        return
    assert suite.prompt.file is not None
    write_default(suite.prompt.file, winner.name)
    run.metadata["applied"] = winner.name
    print(f"--apply: {winner.name} is now the default of {suite.prompt.file}", file=stream)


def _summary(run: OptimizationRun, picks: Sequence[_Pick], stream: TextIO) -> None:
    baseline = run.candidates[0]
    best = min(run.candidates, key=lambda c: (-c.val_score, c.index))
    task = run.metadata.get("task_model_usage", {})
    proposer = run.metadata.get("prompt_model_usage", {})
    lines = [
        f"candidates: {len(run.candidates)} (baseline + {len(run.candidates) - 1})",
        f"validation: baseline {baseline.val_score:.3f}, best {best.val_score:.3f} "
        f"(candidate {best.index}, {best.source})",
        f"test: baseline {_mean(run.test_results[0]):.3f}"
        + "".join(f", {p.name} {_mean(run.test_results[p.candidate.index]):.3f}" for p in picks),
        f"model calls: task {task.get('calls', 0)} (+{task.get('cache_hits', 0)} cached), "
        f"prompt model {proposer.get('calls', 0)} (+{proposer.get('cache_hits', 0)} cached); "
        f"wall time {run.metadata.get('wall_s', 0):.0f}s",
    ]
    for line in lines:
        print(line, file=stream)


def _analyse(run: OptimizationRun, suite: Suite, out_dir: Path, seed: int, stream: TextIO) -> None:
    from promptsuite.optimize._analysis import analyze
    from promptsuite.optimize._export import export_finetune
    from promptsuite.optimize._report import write_optimization_report

    try:
        analysis = analyze(run, suite=suite, seed=seed)
        export = export_finetune(run, suite, out_dir, analysis=analysis, seed=seed)
        paths = write_optimization_report(run, analysis, out_dir, export=export)
    except PromptsuiteError as exc:
        print(f"analysis failed: {exc} (the run record is kept)", file=stream)
        return
    print(f"verdict: {analysis.verdict.headline}", file=stream)
    for reason in analysis.verdict.reasons:
        print(f"  - {reason}", file=stream)
    print(f"report: {paths[0]}", file=stream)
