"""``promptsuite finetune``: train, re-test on the held-out split, and judge the advice.

:func:`finetune` runs the stages in order and records each in one JSON file
(``finetune.json``, :data:`RECORD_VERSION`):

1. **rows**: the train split's reference answers (validation for early stopping; the test
   split never reaches the trainer), with the optimizer's split;
2. **train**: a LoRA on the GGUF model through transformers, written as a GGUF adapter;
3. **agreement**: the training stack's greedy replies on the test cases, later compared with
   llama.cpp's (the provider that runs the adapter everywhere else);
4. **learning curve** (``curve``): the same training on seeded shares of the train rows;
5. **re-test**: the test split run by the normal runner (cache, checks) on the base model
   with your prompt and the best prompt, and on the tuned model with both;
6. **verdict**: the fine-tuned model against the best prompt, paired, with its interval;
   the optimizer's advice re-derived with the learning curve instead of a fixed threshold.
"""

from __future__ import annotations

import gc
import json
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptsuite._files import write_json_atomic
from promptsuite.config import RunSettings
from promptsuite.errors import ConfigError
from promptsuite.finetune._compare import compare_arms, per_tag, verdict_of
from promptsuite.finetune._data import Rows, chat_rows, subsample
from promptsuite.models import ModelSpec
from promptsuite.models.local import LORA_MARK, default_model_path, file_digest
from promptsuite.optimize import OptimizationRun
from promptsuite.optimize._verify import verify_on_test
from promptsuite.optimize.analysis import LearningCurve, analyze, fit_learning_curve
from promptsuite.optimize.search import DEFAULT_FRACTIONS, DEFAULT_TARGET
from promptsuite.suite import Suite
from promptsuite.template import render_messages

__all__ = ["RECORD_VERSION", "FinetuneOptions", "finetune", "read_optimization", "tuned_spec"]

#: Version of ``finetune.json``.
RECORD_VERSION = 1

Say = Callable[[str], None]


@dataclass(frozen=True)
class FinetuneOptions:
    """What ``promptsuite finetune`` does.

    Attributes:
        out_dir: Folder of this run's outputs (adapters, record, report).
        config: The training settings (:class:`promptsuite.finetune.TrainConfig`).
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
    """

    out_dir: Path
    config: Any
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


def read_optimization(path: Path) -> tuple[dict[str, Any], OptimizationRun]:
    """Read an optimization report (a run folder or its ``optimization.json``).

    Raises:
        ConfigError: The file is missing or is not an optimization report.
    """
    file = path / "optimization.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        run = OptimizationRun.from_dict(data["run"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{file}: not an optimization report ({exc}); pass the optimization.json that "
            "promptsuite optimize writes (or its folder)"
        ) from None
    return data, run


def finetune(suite: Suite, options: FinetuneOptions, *, say: Say) -> dict[str, Any]:
    """Run every stage; returns the record (also saved as ``finetune.json``).

    Raises:
        ConfigError: Bad options, or a suite with no train case that has a reference.
        MissingDependency: The fine-tuning stack (or xllamacpp for the re-test) is missing.
    """
    from promptsuite.finetune._train import generate, load_base, release, train_lora

    started = time.perf_counter()
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    opt_data: dict[str, Any] | None = None
    opt_run: OptimizationRun | None = None
    split: dict[str, str] | None = None
    seed = options.seed
    if options.optimization is not None:
        opt_data, opt_run = read_optimization(options.optimization)
        split, seed = opt_run.split, opt_run.seed
    target = (
        options.target
        if options.target is not None
        else (opt_run.target if opt_run is not None else DEFAULT_TARGET)
    )
    rows = chat_rows(suite, seed=seed, fractions=options.fractions, split=split)
    best = _best_variant(suite, opt_run, options.best_variant, rows.variant)
    base_path = options.model_file or default_model_path()
    config = options.config
    say(
        f"finetune {suite.name}: {len(rows.train)} train rows, {len(rows.val)} validation rows "
        f"(early stopping), {len(rows.test_ids)} test cases held out; base {base_path.name}; "
        f"LoRA r{config.rank}, {config.epochs} epochs, batch {config.batch_size}, "
        f"budget {config.max_seconds:.0f} s"
    )
    if rows.missing:
        case_id, why = next(iter(rows.missing.items()))
        say(
            f"  {len(rows.missing)} train/validation cases have no reference, e.g. {case_id}: {why}"
        )
    base = load_base(base_path, config.threads)
    say(f"loaded {base_path.name} with transformers in {base.load_s:.0f} s")
    adapter = out / "adapter.gguf"
    outcome = train_lora(base, rows.train, rows.val, config, adapter, say=say)
    say(
        f"trained {outcome.steps} steps in {outcome.train_s:.0f} s ({outcome.step_s:.1f} s/step, "
        f"stopped: {outcome.stopped}, kept step {outcome.best_step}); adapter: {adapter}"
    )
    test_chats = _test_chats(suite, rows) if options.retest else {}
    generated = time.perf_counter()
    hf_replies = generate(base, outcome.model, list(test_chats.values()), suite.params.max_tokens)
    hf_s = time.perf_counter() - generated
    if test_chats:
        say(f"transformers answered the {len(test_chats)} test cases in {hf_s:.0f} s (agreement)")
    release(outcome)
    curve_runs: list[dict[str, Any]] = []
    curve_adapters: dict[float, Path] = {}
    for share in sorted(s for s in options.curve if s < 1):
        sub = subsample(rows, share, seed)
        path = out / f"adapter-{round(share * 100)}pct.gguf"
        say(f"learning curve: {share:.0%} of the train rows ({len(sub.train)})")
        part = train_lora(base, sub.train, sub.val, config, path, say=say)
        release(part)
        curve_adapters[share] = path
        curve_runs.append(
            {"share": share, "rows": len(sub.train), **_brief(part.to_dict()), "adapter": str(path)}
        )
    load_s = base.load_s
    del base
    gc.collect()
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "suite": suite.name,
        "suite_path": suite.path,
        "base_model": {"file": base_path.name, "size": base_path.stat().st_size},
        "adapter": {
            "path": str(adapter),
            "sha256": file_digest(adapter),
            "bytes": adapter.stat().st_size,
            "matrices": outcome.adapted,
        },
        "seed": seed,
        "target": target,
        "optimization": str(options.optimization) if options.optimization else None,
        "variant": rows.variant,
        "best_variant": best,
        "rows": {
            "train": len(rows.train),
            "val": len(rows.val),
            "test": len(rows.test_ids),
            "train_ids": rows.train_ids,
            "val_ids": rows.val_ids,
            "test_ids": rows.test_ids,
            "missing": rows.missing,
        },
        "config": config.to_dict(),
        "load_s": round(load_s, 3),
        "training": outcome.to_dict(),
        "curve_runs": curve_runs,
        "command": _command(options.argv),
    }
    if options.retest:
        _retest(record, suite, options, rows, base_path, adapter, best, curve_adapters, say)
        _agreement(record, test_chats, hf_replies, hf_s)
        _judge(record, rows, opt_data, opt_run, suite, target, seed, say)
    record["peak_rss_mb"] = max([outcome.peak_rss_mb, *(r["peak_rss_mb"] for r in curve_runs)])
    record["total_s"] = round(time.perf_counter() - started, 3)
    write_json_atomic(out / "finetune.json", record, indent=2)
    from promptsuite.report import write_finetune_report

    record_paths = write_finetune_report(record, out)
    say(f"record: {out / 'finetune.json'}; report: {record_paths[0]}")
    return record


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


def _brief(training: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("steps", "train_s", "step_s", "stopped", "best_step", "peak_rss_mb", "losses")
    return {key: training[key] for key in keys}


def _command(argv: Sequence[str]) -> str:
    return "promptsuite finetune " + " ".join(shlex.quote(a) for a in argv) if argv else ""


def tuned_spec(base_file: Path | None, adapter: Path, label: str = "local+lora") -> ModelSpec:
    """The local model spec of ``adapter`` on ``base_file`` (None: the embedded model)."""
    model = f"{base_file or ''}{LORA_MARK}{adapter}"
    return ModelSpec("local", model, label=label)


def _retest(
    record: dict[str, Any],
    suite: Suite,
    options: FinetuneOptions,
    rows: Rows,
    base_path: Path,
    adapter: Path,
    best: str | None,
    curve_adapters: Mapping[float, Path],
    say: Say,
) -> None:
    variants = {rows.variant: suite.prompt.variants[rows.variant]}
    if best is not None:
        variants[best] = suite.prompt.variants[best]
    base_spec = ModelSpec("local", str(options.model_file or ""), label="local")
    split = rows.split
    say(f"re-testing {len(rows.test_ids)} held-out cases through the runner")
    base_results, base_counts = verify_on_test(suite, split, variants, base_spec, options.settings)
    tuned = tuned_spec(options.model_file, adapter)
    tuned_results, tuned_counts = verify_on_test(suite, split, variants, tuned, options.settings)
    default = rows.variant
    test: dict[str, list[dict[str, Any]]] = {
        "baseline": [dict(s.__dict__) for s in base_results[default]],
        "prompt": [dict(s.__dict__) for s in base_results[best or default]],
        "finetuned": [dict(s.__dict__) for s in tuned_results[default]],
    }
    if best is not None:
        test["both"] = [dict(s.__dict__) for s in tuned_results[best]]
    curve_scores: dict[str, float] = {}
    for share, path in curve_adapters.items():
        spec = tuned_spec(options.model_file, path, label=f"local+lora{round(share * 100)}")
        results, _ = verify_on_test(
            suite, split, {default: variants[default]}, spec, options.settings
        )
        scores = [s.score for s in results[default]]
        curve_scores[str(share)] = sum(scores) / len(scores) if scores else 0.0
    record["arms"] = {
        "baseline": {"model": base_spec.display, "variant": default},
        "prompt": {"model": base_spec.display, "variant": best or default},
        "finetuned": {"model": tuned.model, "variant": default},
        **({"both": {"model": tuned.model, "variant": best}} if best else {}),
    }
    record["test"] = test
    record["runner"] = {"base": base_counts, "tuned": tuned_counts}
    record["curve_scores"] = curve_scores
    for name, arm in test.items():
        mean = sum(_case_score(s) for s in arm) / len(arm) if arm else 0.0
        say(f"  test {name:<9} {mean:.3f}  ({record['arms'][name]['variant']})")


def _case_score(case: Mapping[str, Any]) -> float:
    scores = case.get("scores") or [0.0]
    return float(sum(scores) / len(scores))


def _agreement(
    record: dict[str, Any],
    test_chats: Mapping[str, Any],
    hf_replies: Sequence[str],
    hf_s: float,
) -> None:
    llama = {s["case_id"]: s["output"] for s in record["test"]["finetuned"]}
    pairs = [(cid, hf, llama.get(cid, "")) for cid, hf in zip(test_chats, hf_replies, strict=True)]
    record["agreement"] = {
        "cases": len(pairs),
        "identical": sum(1 for _, a, b in pairs if a == b),
        "identical_stripped": sum(1 for _, a, b in pairs if a.strip() == b.strip()),
        "transformers_s": round(hf_s, 3),
        "differences": [
            {"case_id": cid, "transformers": a, "llama_cpp": b}
            for cid, a, b in pairs
            if a.strip() != b.strip()
        ][:10],
    }


def _judge(
    record: dict[str, Any],
    rows: Rows,
    opt_data: Mapping[str, Any] | None,
    opt_run: OptimizationRun | None,
    suite: Suite,
    target: float,
    seed: int,
    say: Say,
) -> None:
    test = record["test"]
    comparisons = {
        "finetuned_vs_prompt": compare_arms(test["prompt"], test["finetuned"], seed=seed)
    }
    if "both" in test:
        comparisons["both_vs_prompt"] = compare_arms(test["prompt"], test["both"], seed=seed)
    comparisons["finetuned_vs_baseline"] = compare_arms(
        test["baseline"], test["finetuned"], seed=seed
    )
    record["comparisons"] = comparisons
    main = comparisons["finetuned_vs_prompt"]
    outcome = verdict_of(main)
    record["verdict"] = outcome
    record["per_tag"] = per_tag(test)
    if opt_run is not None and opt_data is not None:
        baseline = opt_run.candidates[0]
        best = next(
            (c for c in opt_run.candidates if c.index == opt_data["analysis"]["best_index"]),
            baseline,
        )
        # What a call costs at inference: the best prompt carries its demos in every call,
        # the fine-tuned model answers your own prompt.
        record["prompt_tokens_per_call"] = {
            "your prompt": round(baseline.prompt_tokens_per_call, 1),
            "best prompt": round(best.prompt_tokens_per_call, 1),
        }
    advice = opt_data["analysis"]["verdict"] if opt_data else None
    record["advice_before"] = advice
    say(
        f"fine-tuned {main['candidate_score']:.3f} vs best prompt {main['reference_score']:.3f} "
        f"on {main['n_cases']} test cases: gain {main['gain']:+.3f} "
        f"(95% CI {main['ci_low']:+.3f} to {main['ci_high']:+.3f}), "
        f"{len(main['fixed'])} fixed, {len(main['broken'])} broken"
    )
    advised = advice is not None and str(advice.get("code", "")).startswith("plateau-")
    say(
        f"verdict: the advice ({advice['code'] if advice else 'none recorded'}) is {outcome}"
        if advised or advice
        else f"verdict: fine-tuning vs prompting is {outcome}"
    )
    points = [(len(rows.train), main["candidate_score"])]
    for run in record["curve_runs"]:
        points.append((run["rows"], record["curve_scores"].get(str(run["share"]), 0.0)))
    curve: LearningCurve | None = None
    if len(points) > 1:
        labelled = sum(1 for s in rows.split.values() if s != "test")
        share = len(rows.split) and sum(1 for s in rows.split.values() if s == "train") / len(
            rows.split
        )
        curve = fit_learning_curve(points, target, share or 1.0)
        record["curve"] = curve.to_dict()
        record["curve"]["labelled_now"] = labelled
        say(f"learning curve: {curve.reason()}")
    if opt_run is not None and curve is not None:
        analysis = analyze(opt_run, suite=suite, seed=seed, learning_curve=curve)
        record["advice_after"] = {
            "code": analysis.verdict.code,
            "headline": analysis.verdict.headline,
            "reasons": list(analysis.verdict.reasons),
        }
        say(f"advice with the learning curve: {analysis.verdict.headline}")
