"""``promptsuite finetune``: train, re-test on the held-out split, and judge the advice.

:func:`finetune` runs the stages in order, each filling its typed part of one record
(:class:`~promptsuite.finetune.FinetuneRecord`, saved as ``finetune.json``):

1. **rows**: the train split's reference answers (validation for early stopping; the test
   split never reaches the trainer), with the optimizer's split; a train case with no
   reference of its own gets the best passing reply of the sampling stage (the
   optimization run's, else sampled here: rejection-sampling fine-tuning);
2. **train** (``training``): a LoRA on the GGUF model through transformers, written as a
   GGUF adapter;
3. **agreement**: the training stack's greedy replies on the test cases, later compared with
   llama.cpp's (the provider that runs the adapter everywhere else);
4. **learning curve** (``curve_runs``): the same training on seeded shares of the train rows;
5. **re-test** (``retest``): the test split run by the normal runner (cache, checks) on the
   base model with your prompt and the best prompt, and on the tuned model with both,
   through the optimizer's own re-test engine (:func:`promptsuite.optimize.retest`);
6. **consistency** (``consistency``): the test split again with K replies per case at a
   sampling temperature, the best prompt on the base model against the fine-tuned model:
   how often each case passes when asked again, before and after;
7. **verdict** (``judgement``): the fine-tuned model against the best prompt, paired, with
   its interval; the optimizer's advice re-derived with the learning curve instead of a
   fixed threshold.

At a little over 500 lines it stays whole: it is the one pipeline of ``promptsuite
finetune``, the stages above in their order, each a short function that hands its work to
the modules that own it (rows, training, re-test, comparison, page).
"""

from __future__ import annotations

import dataclasses
import gc
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptsuite._schema import write_record
from promptsuite.config import RunSettings
from promptsuite.errors import ConfigError
from promptsuite.finetune import _record as parts
from promptsuite.finetune._compare import FINETUNE_ADVICE, compare_arms, per_tag, verdict_of
from promptsuite.finetune._config import TrainConfig
from promptsuite.finetune._data import Rows, chat_rows, subsample
from promptsuite.finetune._page import write_finetune_report
from promptsuite.models import ModelSpec
from promptsuite.models.local import LORA_MARK, default_model_path, file_digest
from promptsuite.optimize import (
    CaseScore,
    OptimizationReport,
    OptimizationRun,
    RunnerCounts,
    Sampling,
    Say,
    mean,
    mean_score,
    own_references,
    read_optimization_report,
    retest,
    sampled_references,
)
from promptsuite.optimize.analysis import analyze, fit_learning_curve
from promptsuite.optimize.search import (
    DEFAULT_FRACTIONS,
    DEFAULT_TARGET,
    SamplingOptions,
    sample_references,
    sampling_line,
    split_cases,
)
from promptsuite.suite import Suite
from promptsuite.template import render_messages

__all__ = ["FinetuneOptions", "finetune", "tuned_spec"]


@dataclass(frozen=True)
class FinetuneOptions:
    """What ``promptsuite finetune`` does.

    Attributes:
        out_dir: Folder of this run's outputs (adapters, record, report).
        config: The training settings.
        model_file: Base GGUF model; None for the embedded one.
        seed: Seed of the split (ignored when ``optimization`` gives the run's split).
        fractions: Train, validation and test shares.
        optimization: An optimization run (its ``optimization.json``): its split, seed,
            target and best prompt are used, and its advice is judged.
        best_variant: The prompt variant to compare with (default: the optimization's first
            written variant).
        curve: Shares of the train rows (below 1) to train on for the learning curve.
        retest: Run the test split through the runner and judge (else train only).
        settings: Runner settings (cache) of the re-test.
        target: The score aimed at (default: the optimization's).
        argv: The command line, for the reproduce line.
        sampling: Samples per train case without a reference (the optimization run's
            samples are used when it has them), their temperature and teacher; the
            consistency re-test asks each test case as many times.
    """

    out_dir: Path
    config: TrainConfig
    model_file: Path | None = None
    seed: int = 0
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    optimization: Path | None = None
    best_variant: str | None = None
    curve: tuple[float, ...] = ()
    retest: bool = True
    settings: RunSettings = field(default_factory=RunSettings)
    target: float | None = None
    argv: Sequence[str] = ()
    sampling: SamplingOptions = field(default_factory=SamplingOptions)


def finetune(suite: Suite, options: FinetuneOptions, *, say: Say) -> parts.FinetuneRecord:
    """Run every stage; returns the record (also saved as ``finetune.json``).

    Raises:
        ConfigError: Bad options, or a suite with no train case that has a reference.
        MissingDependency: The fine-tuning stack (or xllamacpp for the re-test) is missing.
    """
    from promptsuite.finetune._train import generate, load_base, release, train_lora

    started = time.perf_counter()
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    report: OptimizationReport | None = None
    split: dict[str, str] | None = None
    seed = options.seed
    if options.optimization is not None:
        report = read_optimization_report(options.optimization)
        split, seed = report.run.split, report.run.seed
    opt_run = report.run if report is not None else None
    target = (
        options.target
        if options.target is not None
        else (opt_run.target if opt_run is not None else DEFAULT_TARGET)
    )
    sampling = _sampling(suite, options, opt_run, split, seed, say)
    rows = chat_rows(
        suite,
        seed=seed,
        fractions=options.fractions,
        split=split,
        extra=sampled_references(sampling),
    )
    best = _best_variant(suite, opt_run, options.best_variant, rows.variant)
    base_path = options.model_file or default_model_path()
    config = options.config.resolved(len(rows.val))
    epochs = (
        f"up to {config.epochs} epochs (early stopping, patience {config.patience})"
        if rows.val
        else f"{config.epochs} epochs (no validation row has a reference: no early stopping)"
    )
    say(
        f"finetune {suite.name}: {len(rows.train)} train rows, {len(rows.val)} validation rows, "
        f"{len(rows.test_ids)} test cases held out; base {base_path.name}; "
        f"LoRA r{config.rank}, {epochs}, batch {config.batch_size}, "
        f"budget {config.max_seconds:.0f} s"
    )
    if rows.sources:
        say("  answers: " + ", ".join(f"{n} {source}" for source, n in rows.sources.items()))
    if rows.missing:
        case_id, why = next(iter(rows.missing.items()))
        say(
            f"  {len(rows.missing)} train/validation cases have no reference, e.g. {case_id}: {why}"
        )
    if opt_run is not None and best is None and options.best_variant is None:
        say(
            "  the optimization wrote no variant into the prompt file (--no-write, or none "
            "beat your prompt), so the prompt arm is your own prompt; pass --best-variant to "
            "compare with another"
        )
    base = load_base(base_path, config.threads)
    say(f"loaded {base_path.name} with transformers in {base.load_s:.0f} s")
    adapter = out / "adapter.gguf"
    outcome = train_lora(base, rows.train, rows.val, config, adapter, say=say)
    training = outcome.training
    kept = training.kept_epoch
    say(
        f"trained {training.steps} steps in {training.train_s:.0f} s ({training.step_s:.1f} "
        f"s/step, stopped: {training.stopped}, kept "
        + (f"epoch {kept} of {len(training.val_losses)}, " if kept else "")
        + f"step {training.best_step}); adapter: {adapter}"
    )
    test_chats = _test_chats(suite, rows) if options.retest else {}
    generated = time.perf_counter()
    hf_replies = generate(base, outcome.model, list(test_chats.values()), suite.params.max_tokens)
    hf_s = time.perf_counter() - generated
    if test_chats:
        say(f"transformers answered the {len(test_chats)} test cases in {hf_s:.0f} s (agreement)")
    release(outcome)
    curve_runs: list[parts.CurveRun] = []
    curve_adapters: dict[float, Path] = {}
    for share in sorted(s for s in options.curve if s < 1):
        sub = subsample(rows, share, seed)
        path = out / f"adapter-{round(share * 100)}pct.gguf"
        say(f"learning curve: {share:.0%} of the train rows ({len(sub.train)})")
        part = train_lora(base, sub.train, sub.val, config, path, say=say)
        release(part)
        curve_adapters[share] = path
        curve_runs.append(_curve_run(share, len(sub.train), part.training, path))
    load_s = base.load_s
    del base
    gc.collect()
    retested: parts.RetestedArms | None = None
    agreement: parts.Agreement | None = None
    judgement: parts.Judgement | None = None
    consistent: parts.ConsistencyRetest | None = None
    if options.retest:
        retested = _retest(suite, options, rows, adapter, best, curve_adapters, say)
        if options.sampling.samples > 0:
            consistent = _consistency(suite, options, rows, adapter, best, seed, say)
        agreement = _agreement(test_chats, hf_replies, hf_s, retested.test["finetuned"])
        judgement = _judge(retested, rows, report, suite, target, seed, curve_runs, say)
    record = parts.FinetuneRecord(
        suite=suite.name,
        suite_path=suite.path,
        base_model=parts.ModelFile(file=base_path.name, size=base_path.stat().st_size),
        adapter=parts.AdapterFile(
            path=str(adapter),
            sha256=file_digest(adapter),
            bytes=adapter.stat().st_size,
            matrices=training.adapted,
        ),
        seed=seed,
        target=target,
        optimization=str(options.optimization) if options.optimization else None,
        variant=rows.variant,
        best_variant=best,
        rows=parts.RowCounts(
            train=len(rows.train),
            val=len(rows.val),
            test=len(rows.test_ids),
            train_ids=rows.train_ids,
            val_ids=rows.val_ids,
            test_ids=rows.test_ids,
            missing=rows.missing,
            sources=rows.sources,
        ),
        config=config,
        load_s=round(load_s, 3),
        training=training,
        curve_runs=curve_runs,
        command=_command(options.argv),
        sampling=sampling,
        retest=retested,
        consistency=consistent,
        agreement=agreement,
        judgement=judgement,
        peak_rss_mb=max([training.peak_rss_mb, *(r.peak_rss_mb for r in curve_runs)]),
        total_s=round(time.perf_counter() - started, 3),
    )
    write_record(out / "finetune.json", record)
    record_paths = write_finetune_report(record, out)
    say(f"record: {out / 'finetune.json'}; report: {record_paths[0]}")
    return record


def _sampling(
    suite: Suite,
    options: FinetuneOptions,
    opt_run: OptimizationRun | None,
    split: Mapping[str, str] | None,
    seed: int,
    say: Say,
) -> Sampling | None:
    """The optimization run's sampling stage, else one run here on the train cases that
    have no reference (None when every train case has one, or ``--samples 0``)."""
    if opt_run is not None and opt_run.sampling is not None:
        return opt_run.sampling
    plan = options.sampling
    assigned = split or split_cases(suite.cases, seed=seed, fractions=options.fractions)
    train = [c for c in suite.cases if assigned.get(c.id) == "train"]
    _, missing = own_references(suite, train)
    wanted = [c for c in train if c.id in missing]
    if not wanted or plan.samples < 1:
        return None
    model = ModelSpec("local", str(options.model_file or ""), label="local")
    say(
        f"sampling: {len(wanted)} train cases have no reference answer; asking {model.display} "
        f"for 1 + {plan.samples} replies each (temperature {plan.temperature:g}), cached"
        + (f"; {plan.teacher.display} where none passes" if plan.teacher else "")
    )
    sampling = sample_references(suite, wanted, model, plan, seed=seed, settings=options.settings)
    say(sampling_line(sampling))
    return sampling


def _consistency(
    suite: Suite,
    options: FinetuneOptions,
    rows: Rows,
    adapter: Path,
    best: str | None,
    seed: int,
    say: Say,
) -> parts.ConsistencyRetest:
    """The test split with K replies per case at the sampling temperature: the best prompt
    on the base model against the fine-tuned model with your prompt."""
    plan = options.sampling
    default = rows.variant
    chosen = best or default
    variants = {name: suite.prompt.variants[name] for name in dict.fromkeys((default, chosen))}
    base = ModelSpec("local", str(options.model_file or ""), label="local")
    arms: dict[parts.ArmName, tuple[ModelSpec, str]] = {
        "prompt": (base, chosen),
        "finetuned": (tuned_spec(options.model_file, adapter), default),
    }
    sampled = dataclasses.replace(
        suite, params=dataclasses.replace(suite.params, temperature=plan.temperature, seed=seed)
    )
    settings = dataclasses.replace(options.settings, repeat=plan.samples)
    say(
        f"consistency: {len(rows.test_ids)} held-out cases, {plan.samples} replies each at "
        f"temperature {plan.temperature:g}, best prompt vs fine-tuned"
    )
    retested = retest(sampled, rows.split, variants, arms, settings)
    test = {name: retested.scores[name] for name in arms}
    summary = {name: _arm_consistency(scores) for name, scores in test.items()}
    for name, arm in summary.items():
        say(
            f"  {name:<9} {arm.pass_rate:.0%} of replies pass; {arm.always} cases always, "
            f"{arm.sometimes} sometimes, {arm.never} never"
        )
    calls = sum(c.model_calls for c in retested.counts)
    return parts.ConsistencyRetest(
        samples=plan.samples,
        temperature=plan.temperature,
        test=test,
        arms=summary,
        comparison=compare_arms(test["prompt"], test["finetuned"], seed=seed),
        runner=RunnerCounts(
            model_calls=calls,
            cache_hits=sum(c.cache_hits for c in retested.counts),
            errors=sum(c.errors for c in retested.counts),
        ),
    )


def _arm_consistency(scores: Sequence[CaseScore]) -> parts.ArmConsistency:
    rates = [sum(s.passes) / len(s.passes) if s.passes else 0.0 for s in scores]
    return parts.ArmConsistency(
        cases=len(scores),
        pass_rate=round(mean(rates), 6),
        always=sum(1 for r in rates if r == 1.0),
        sometimes=sum(1 for r in rates if 0.0 < r < 1.0),
        never=sum(1 for r in rates if r == 0.0),
    )


def _best_variant(
    suite: Suite, run: OptimizationRun | None, chosen: str | None, default: str
) -> str | None:
    if chosen is not None:
        if chosen not in suite.prompt.variants:
            known = ", ".join(suite.prompt.variants)
            raise ConfigError(f"--best-variant {chosen!r} is not in {suite.path}; known: {known}")
        return chosen
    if run is None:
        return None
    written = [name for name in run.written_variants if name in suite.prompt.variants]
    return written[0] if written and written[0] != default else None


def _test_chats(suite: Suite, rows: Rows) -> dict[str, list[dict[str, Any]]]:
    templates = suite.prompt.variants[rows.variant].templates
    cases = {case.id: case for case in suite.cases}
    return {
        case_id: [m.to_dict() for m in render_messages(templates, cases[case_id].vars)]
        for case_id in rows.test_ids
    }


def _curve_run(share: float, rows: int, training: parts.Training, adapter: Path) -> parts.CurveRun:
    return parts.CurveRun(
        share=share,
        rows=rows,
        steps=training.steps,
        train_s=training.train_s,
        step_s=training.step_s,
        stopped=training.stopped,
        best_step=training.best_step,
        peak_rss_mb=training.peak_rss_mb,
        losses=training.losses,
        adapter=str(adapter),
    )


def _command(argv: Sequence[str]) -> str:
    return "promptsuite finetune " + " ".join(shlex.quote(a) for a in argv) if argv else ""


def tuned_spec(base_file: Path | None, adapter: Path, label: str = "local+lora") -> ModelSpec:
    """The local model spec of ``adapter`` on ``base_file`` (None: the embedded model)."""
    model = f"{base_file or ''}{LORA_MARK}{adapter}"
    return ModelSpec("local", model, label=label)


def _retest(
    suite: Suite,
    options: FinetuneOptions,
    rows: Rows,
    adapter: Path,
    best: str | None,
    curve_adapters: Mapping[float, Path],
    say: Say,
) -> parts.RetestedArms:
    default = rows.variant
    variants = {default: suite.prompt.variants[default]}
    if best is not None:
        variants[best] = suite.prompt.variants[best]
    base = ModelSpec("local", str(options.model_file or ""), label="local")
    tuned = tuned_spec(options.model_file, adapter)
    arms: dict[parts.ArmName, tuple[ModelSpec, str]] = {
        "baseline": (base, default),
        "prompt": (base, best or default),
        "finetuned": (tuned, default),
    }
    if best is not None:
        arms["both"] = (tuned, best)
    say(f"re-testing {len(rows.test_ids)} held-out cases through the runner")
    retested = retest(suite, rows.split, variants, arms, options.settings)
    base_counts, tuned_counts = retested.counts
    curve_scores: dict[float, float] = {}
    for share, path in curve_adapters.items():
        spec = tuned_spec(options.model_file, path, label=f"local+lora{round(share * 100)}")
        curve = retest(suite, rows.split, variants, {"curve": (spec, default)}, options.settings)
        curve_scores[share] = mean_score(curve.scores["curve"])
    test: dict[parts.ArmName, list[CaseScore]] = {name: retested.scores[name] for name in arms}
    part = parts.RetestedArms(
        arms={
            name: parts.Arm(model=base.display if model == base else model.model, variant=variant)
            for name, (model, variant) in arms.items()
        },
        test=test,
        runner=parts.RetestCounts(base=base_counts, tuned=tuned_counts),
        curve_scores=curve_scores,
    )
    for name, scores in test.items():
        say(f"  test {name:<9} {mean_score(scores):.3f}  ({part.arms[name].variant})")
    return part


def _agreement(
    test_chats: Mapping[str, Any],
    hf_replies: Sequence[str],
    hf_s: float,
    finetuned: Sequence[CaseScore],
) -> parts.Agreement:
    llama = {s.case_id: s.output for s in finetuned}
    pairs = [(cid, hf, llama.get(cid, "")) for cid, hf in zip(test_chats, hf_replies, strict=True)]
    return parts.Agreement(
        cases=len(pairs),
        identical=sum(1 for _, a, b in pairs if a == b),
        identical_stripped=sum(1 for _, a, b in pairs if a.strip() == b.strip()),
        transformers_s=round(hf_s, 3),
        differences=[
            parts.Difference(case_id=cid, transformers=a, llama_cpp=b)
            for cid, a, b in pairs
            if a.strip() != b.strip()
        ][:10],
    )


def _judge(
    retested: parts.RetestedArms,
    rows: Rows,
    report: OptimizationReport | None,
    suite: Suite,
    target: float,
    seed: int,
    curve_runs: Sequence[parts.CurveRun],
    say: Say,
) -> parts.Judgement:
    test = retested.test
    main = compare_arms(test["prompt"], test["finetuned"], seed=seed)
    comparisons = parts.Comparisons(
        finetuned_vs_prompt=main,
        both_vs_prompt=compare_arms(test["prompt"], test["both"], seed=seed)
        if "both" in test
        else None,
        finetuned_vs_baseline=compare_arms(test["baseline"], test["finetuned"], seed=seed),
    )
    finding = verdict_of(main)
    tokens: parts.PromptTokens | None = None
    if report is not None:
        baseline = report.run.candidates[0]
        best = next(
            (c for c in report.run.candidates if c.index == report.analysis.best_index),
            baseline,
        )
        tokens = parts.PromptTokens(
            your_prompt=round(baseline.prompt_tokens_per_call, 1),
            best_prompt=round(best.prompt_tokens_per_call, 1),
        )
    advice = report.analysis.verdict if report is not None else None
    say(
        f"fine-tuned {main.candidate_score:.3f} vs best prompt {main.reference_score:.3f} "
        f"on {main.n_cases} test cases: gain {main.gain:+.3f} "
        f"(95% CI {main.ci_low:+.3f} to {main.ci_high:+.3f}), "
        f"{len(main.fixed)} fixed, {len(main.broken)} broken"
    )
    if advice is None:
        say(f"verdict: fine-tuning vs prompting is {finding}")
    elif advice.code in FINETUNE_ADVICE:
        say(f"verdict: the advice ({advice.code}) is {finding}")
    else:  # the advice did not call for fine-tuning: nothing of it to confirm or refute
        say(
            f"verdict: fine-tuning vs prompting is {finding}; the advice ({advice.code}) "
            "did not call for fine-tuning"
        )
    points = [(len(rows.train), main.candidate_score)]
    for run in curve_runs:
        points.append((run.rows, retested.curve_scores.get(run.share, 0.0)))
    curve = None
    labelled_now: int | None = None
    if len(points) > 1:
        labelled_now = sum(1 for s in rows.split.values() if s != "test")
        share = len(rows.split) and sum(1 for s in rows.split.values() if s == "train") / len(
            rows.split
        )
        curve = fit_learning_curve(points, target, share or 1.0)
        say(f"learning curve: {curve.reason()}")
    advice_after = None
    if report is not None and curve is not None:
        advice_after = analyze(report.run, suite=suite, seed=seed, learning_curve=curve).verdict
        say(f"advice with the learning curve: {advice_after.headline}")
    return parts.Judgement(
        comparisons=comparisons,
        verdict=finding,
        per_tag=per_tag(test),
        prompt_tokens_per_call=tokens,
        advice_before=advice,
        curve=curve,
        labelled_now=labelled_now,
        advice_after=advice_after,
    )
