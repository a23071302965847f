"""The optimization pipeline: search → write back → verify → apply → analyse → export → report.

:func:`optimize` runs the stages in order on one loaded suite and says what each did through
``say``; ``promptsuite optimize`` is a thin command over it. The stages fill the typed run
record (:class:`~promptsuite.optimize.OptimizationRun`), which is saved after the search and
again at the end, so an analysis that fails never costs the search.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promptsuite._schema import write_record
from promptsuite.config import RunSettings
from promptsuite.errors import PromptsuiteError
from promptsuite.models import ModelSpec
from promptsuite.optimize._export import export_finetune
from promptsuite.optimize._page import write_optimization_report
from promptsuite.optimize._records import Candidate, OptimizationRun, Verification, mean_score
from promptsuite.optimize._report import OptimizationReport
from promptsuite.optimize._retest import retest
from promptsuite.optimize._shape import PromptShape, candidate_templates
from promptsuite.optimize._writeback import NewVariant, add_variants, unique_names, write_default
from promptsuite.optimize.analysis import LearningCurve, analyze
from promptsuite.optimize.search import Progress, SearchOptions, run_search
from promptsuite.suite import Suite, Variant, load_suite

Say = Callable[[str], None]
"""Where a stage says what it did, one line at a time."""


@dataclass(frozen=True)
class PipelineOptions:
    """What to do around the search.

    Attributes:
        search: The search's own options.
        out_dir: Folder of this run's outputs (run record, DSPy log, report, export).
        keep: Best candidates to write back as variants.
        write: Write the kept candidates into the prompt file (else verify in memory).
        apply: Make the winner the prompt's default, if it is no worse on the test split.
        learning_curve: A fine-tune's measured learning curve (``promptsuite finetune
            --curve``): the advice takes the labelled cases it needs from it instead of
            the fixed threshold.
    """

    search: SearchOptions
    out_dir: Path
    keep: int = 2
    write: bool = True
    apply: bool = False
    learning_curve: LearningCurve | None = None


@dataclass(frozen=True)
class Pick:
    """A candidate chosen to be written back, with its variant name."""

    candidate: Candidate
    name: str
    variant: Variant


@dataclass
class PipelineResult:
    """What the pipeline left behind.

    Attributes:
        run: The run record, with its test results.
        run_path: Where the record is saved (``run.json``).
        picks: The candidates written back (or verified in memory), best first.
        written: Whether the picks were written into the prompt file.
        verdict: The analysis' headline and reasons; empty when the analysis failed.
        report_paths: The optimization report's HTML and JSON files.
        problem: Why the analysis failed, if it did.
    """

    run: OptimizationRun
    run_path: Path
    picks: list[Pick] = field(default_factory=list)
    written: bool = False
    verdict: list[str] = field(default_factory=list)
    report_paths: list[Path] = field(default_factory=list)
    problem: str | None = None


def optimize(
    suite: Suite,
    options: PipelineOptions,
    *,
    say: Say,
    progress: Progress | None = None,
) -> PipelineResult:
    """Run every stage on ``suite``.

    Raises:
        ConfigError: Bad options, or a suite the optimizer cannot use.
        MissingDependency: DSPy (or optuna for mipro) is missing.
        OptimizeError: The baseline could not be evaluated.
    """
    started = time.perf_counter()
    search = options.search
    outcome = run_search(suite, search, progress=progress, say=say)
    run = outcome.run
    if run.optimizer_error is not None:
        say(
            f"the optimizer stopped early ({run.optimizer_error}); continuing "
            f"with the {len(run.candidates)} candidate(s) recorded"
        )
    result = PipelineResult(run, options.out_dir / "run.json")
    save_run(run, result.run_path)
    result.picks = pick(run, outcome.shape, suite, options.keep, search.optimizer)
    result.written = write_back(suite, result.picks, options.write, say)
    run.written_variants = [p.name for p in result.picks] if result.written else []
    # The variants are verified as written: through the file, loaded like any suite.
    verify_suite = load_suite(suite.path) if result.written else suite
    model = search.model or suite.models[0]
    verify(run, verify_suite, outcome.shape.variant, result.picks, model, search.settings, say)
    if options.apply:
        apply(run, suite, result.picks, result.written, say)
    run.wall_s = round(time.perf_counter() - started, 3)
    save_run(run, result.run_path)
    analyse(result, suite, options.out_dir, search.seed, options.learning_curve)
    return result


def save_run(run: OptimizationRun, path: Path) -> None:
    """Save the run record atomically."""
    write_record(path, run)


def pick(
    run: OptimizationRun, shape: PromptShape, suite: Suite, keep: int, optimizer: str
) -> list[Pick]:
    """The best candidates that beat the baseline on validation, best first (only those
    scored on every validation case: a candidate racing dropped was behind)."""
    baseline = run.candidates[0]
    better = sorted(
        (c for c in run.candidates[1:] if c.complete and c.val_score > baseline.val_score),
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
        picks.append(Pick(candidate, name, Variant(name, templates, description)))
    return picks


def write_back(suite: Suite, picks: Sequence[Pick], write: bool, say: Say) -> bool:
    """Append the picks to the prompt file as named variants; whether it was written.

    A prompt file that cannot be edited is left as it was: the picks go to a new prompt file
    beside it (and are verified in memory), so a finished search is never lost.
    """
    if not picks:
        say("no candidate beat the baseline on validation; nothing written")
        return False
    if not write or suite.prompt.file is None:
        why = "--no-write" if not write else "the suite's prompt is inline"
        say(f"not writing variants ({why}); verifying them in memory")
        return False
    variants = [NewVariant(p.name, p.variant.templates, p.variant.description or "") for p in picks]
    names = ", ".join(p.name for p in picks)
    outcome = add_variants(suite.prompt.file, variants)
    if outcome.refused is None:
        say(f"wrote variant(s) {names} to {suite.prompt.file}")
        return True
    if outcome.path is None:
        say(
            f"could not edit {suite.prompt.file} ({outcome.refused}) nor write a prompt file "
            f"beside it ({outcome.failed}); verifying variant(s) {names} in memory (the run "
            "record holds their instructions and demos)"
        )
        return False
    say(
        f"{suite.prompt.file} was not edited ({outcome.refused}); wrote variant(s) {names} to "
        f"{outcome.path} instead, a new prompt file with its variants and these: point the "
        "suite's prompt at it to use them"
    )
    return False


def verify(
    run: OptimizationRun,
    suite: Suite,
    baseline_variant: str,
    picks: Sequence[Pick],
    model: ModelSpec,
    settings: RunSettings,
    say: Say,
) -> None:
    """Score the baseline and the picks on the held-out test split with the normal runner."""
    variants = {baseline_variant: suite.prompt.variants[baseline_variant]}
    for chosen in picks:
        variants[chosen.name] = suite.prompt.variants.get(chosen.name, chosen.variant)
    retested = retest(suite, run.split, variants, {v: (model, v) for v in variants}, settings)
    results = retested.scores
    run.test_results[0] = results[baseline_variant]
    for chosen in picks:
        run.test_results[chosen.candidate.index] = results[chosen.name]
    (counts,) = retested.counts
    run.verification = Verification(**counts.model_dump(), variants=list(variants))
    say(
        f"verified on {len(results[baseline_variant])} test cases with the runner "
        f"({counts.model_calls} model calls, {counts.cache_hits} cache hits)"
    )


def apply(
    run: OptimizationRun, suite: Suite, picks: Sequence[Pick], written: bool, say: Say
) -> None:
    """Make the winner the prompt's default, unless it scores below the baseline on test."""
    if not written:
        say("--apply: no variant was written into the prompt file, its default stays")
        return
    winner = picks[0]
    baseline_test = mean_score(run.test_results[0])
    winner_test = mean_score(run.test_results[winner.candidate.index])
    if winner_test < baseline_test:
        say(
            f"--apply refused: {winner.name} scores {winner_test:.3f} on the test split, below "
            f"the baseline's {baseline_test:.3f}; the default stays"
        )
        return
    assert suite.prompt.file is not None
    write_default(suite.prompt.file, winner.name)
    run.applied = winner.name
    say(f"--apply: {winner.name} is now the default of {suite.prompt.file}")


def analyse(
    result: PipelineResult,
    suite: Suite,
    out_dir: Path,
    seed: int,
    learning_curve: LearningCurve | None = None,
) -> None:
    """Analyse the run, export the fine-tuning data and write the optimization report."""
    run = result.run
    try:
        analysis = analyze(run, suite=suite, seed=seed, learning_curve=learning_curve)
        export = export_finetune(run, suite, out_dir, analysis=analysis, seed=seed)
        report = OptimizationReport(run=run, analysis=analysis, export=export)
        result.report_paths = write_optimization_report(report, out_dir)
    except PromptsuiteError as exc:
        result.problem = f"analysis failed: {exc} (the run record is kept)"
        return
    result.verdict = [analysis.verdict.headline, *analysis.verdict.reasons]
