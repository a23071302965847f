"""Prove the advice: ``promptsuite optimize`` then ``promptsuite finetune`` on the knowledge-gap
suites, and print test accuracy prompt / fine-tuned / both with the cost.

By default it runs the closed-form knowledge-gap suites. Any other known-answer suite runs
with ``--suite``: an open-ended one (``polite_reply``) has no case that states or pins a
reference, so its rows are the sampling stage's passing replies (rejection sampling). The
consistency table (each test case asked K times at the sampling temperature, best prompt
against fine-tuned) is printed for every suite. ``team_reply`` has nothing to train on: the
embedded model never names the one right team in its samples (0 of 24 train cases), so its
verdict is to label replies or sample a teacher, and ``promptsuite finetune`` says so.

Each suite (see ``make_suites.py``) runs in a fresh temporary copy with a fresh cache, exactly
as a user would type it::

    promptsuite optimize suites/NAME.yaml
    promptsuite finetune suites/NAME.yaml --optimization reports/optimize/NAME-*/ --curve

The fine-tune uses the optimization's split (same held-out test cases), is compared paired
with the best prompt it wrote back, and the advice is re-derived with the learning curve::

    python benchmarks/known_answer/finetune.py [--suite card_intents ...] [-- finetune options]

``--arm NAME=OPTIONS`` (repeatable) fine-tunes the same optimization once per arm, each with
its own finetune options, so training settings compare on one split and one best prompt.
The epochs table (validation loss after each epoch, the epoch kept, why training stopped,
where a patience of 1 would have stopped, and the time to the verdict) is how the default
epochs and patience were chosen (docs/finetune.md "Epochs")::

    python benchmarks/known_answer/finetune.py --all --no-curve \
        --arm "default=" --arm "3 epochs=--epochs 3 --patience 1"

It prints one Markdown row per suite and arm and exits 1 if a run fails. It takes minutes per suite
on a 2-core CPU (most of it training): it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from promptsuite.finetune import FinetuneRecord, read_finetune_record
from promptsuite.finetune._config import EarlyStop
from promptsuite.optimize import mean_score

HERE = Path(__file__).resolve().parent
SUITES = ("card_intents", "queue_codes")
KNOWN = ("card_intents", "order_number", "polite_reply", "queue_codes", "short_reply")


def run(command: list[str], cwd: Path) -> float:
    """Run a promptsuite command in ``cwd``; its wall time."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return time.perf_counter() - started


@dataclass(frozen=True)
class Measured:
    """One fine-tune (one arm on one suite): its record and the wall time of both commands."""

    arm: str
    record: FinetuneRecord
    optimize_s: float
    finetune_s: float


def run_suite(
    name: str, arms: list[tuple[str, list[str]]], curve: bool, keep: Path | None
) -> list[Measured]:
    """Optimize one suite in a fresh folder, then fine-tune it once per arm."""
    with tempfile.TemporaryDirectory(prefix=f"finetune-{name}-") as folder:
        work = Path(folder)
        for part in ("suites", "prompts"):
            (work / part).mkdir()
            shutil.copy(HERE / part / f"{name}.yaml", work / part)
        cli = [sys.executable, "-m", "promptsuite.cli"]
        optimize_s = run([*cli, "optimize", f"suites/{name}.yaml"], work)
        [opt_dir] = (work / "reports" / "optimize").glob(f"{name}-*")
        command = [*cli, "finetune", f"suites/{name}.yaml", "--optimization", str(opt_dir)]
        measured = []
        for i, (arm, options) in enumerate(arms):
            out = work / "reports" / "finetune" / f"arm{i}"
            options = [*(["--curve"] if curve else []), *options, "--out", str(out)]
            finetune_s = run([*command, *options], work)
            [record_file] = out.glob(f"{name}-*/finetune.json")
            measured.append(
                Measured(arm, read_finetune_record(record_file), optimize_s, finetune_s)
            )
            print(f"{name} [{arm}]: {epochs_row(measured[-1])}", file=sys.stderr, flush=True)
        if keep is not None:
            shutil.copytree(work / "reports", keep / name, dirs_exist_ok=True)
    return measured


def epochs_row(m: Measured) -> str:
    """The epochs table's row of one fine-tune: what early stopping saw and decided."""
    r = m.record
    t = r.training
    assert r.judgement is not None  # the benchmark always re-tests
    per_epoch = math.ceil(r.rows.train / r.config.batch_size)
    epochs = math.ceil(t.steps / per_epoch)  # also without validation rows
    kept = t.kept_epoch or 0
    return (
        f"| {r.suite} | {m.arm} | {r.rows.train} / {r.rows.val} | {epochs} "
        f"({per_epoch} steps each) | "
        + ", ".join(f"{loss:.3f}" for _, loss in t.val_losses)
        + f" | {kept} | {t.stopped} | {patience_one(t.val_losses, r.config.min_delta)} | "
        f"{t.train_s:.0f} s | "
        f"{r.judgement.comparisons.finetuned_vs_prompt.gain:+.3f} | {r.judgement.verdict} | "
        f"{m.optimize_s:.0f} s + {m.finetune_s:.0f} s |"
    )


def patience_one(val_losses: list[tuple[int, float]], min_delta: float) -> str:
    """Where training with a patience of 1 would have stopped, and the epoch it would keep.

    The learning-rate schedule depends on the epoch cap, not on the patience, so the same
    run with patience 1 follows these losses until its first epoch without a better one.
    """
    stop, kept = EarlyStop(1, min_delta), 0
    for epoch, (_, loss) in enumerate(val_losses, start=1):
        if stop.better(loss):
            kept = epoch
        elif stop.done:
            return f"after {epoch}, keeps {kept}"
    return f"did not stop, keeps {kept}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=KNOWN, help="repeatable")
    parser.add_argument("--all", action="store_true", help="every suite there is a fine-tune for")
    parser.add_argument(
        "--arm",
        action="append",
        default=[],
        metavar="NAME=OPTIONS",
        help="a fine-tune of the same optimization with these options (repeatable)",
    )
    parser.add_argument("--no-curve", action="store_true", help="skip the learning curve")
    parser.add_argument("--keep", type=Path, help="copy each run's reports/ into this folder")
    parser.add_argument("extra", nargs="*", help="more options for promptsuite finetune")
    args = parser.parse_args()
    arms = [
        (name, [*shlex.split(options), *args.extra])
        for name, _, options in (arm.partition("=") for arm in args.arm)
    ] or [("default", list(args.extra))]
    suites = KNOWN if args.all else args.suite or SUITES
    measured = [m for name in suites for m in run_suite(name, arms, not args.no_curve, args.keep)]
    print(
        "| suite | arm | train / val rows | epochs run | validation loss by epoch | epoch kept | "
        "stopped | patience 1 | train | fine-tuned vs best prompt | judgement | "
        "time to verdict (optimize + finetune) |"
    )
    print("|" + "---|" * 12)
    for m in measured:
        print(epochs_row(m))
    print()
    print(
        "| suite | arm | train / val / test | steps | s/step | train | peak RSS | your prompt | "
        "best prompt | fine-tuned | both | gain vs best prompt (95% CI) | fixed / broken | "
        "verdict | llama.cpp = transformers | labels for target | optimize + finetune |"
    )
    print("|" + "---|" * 17)
    for m in measured:
        r = m.record
        # The benchmark always re-tests: every run has these parts.
        assert r.retest is not None and r.agreement is not None and r.judgement is not None
        t, test, j = r.training, r.retest.test, r.judgement
        c = j.comparisons.finetuned_vs_prompt
        both = f"{mean_score(test['both']):.3f}" if "both" in test else "-"
        needed = j.curve.cases_needed if j.curve is not None else None
        print(
            f"| {r.suite} | {m.arm} | {r.rows.train} / {r.rows.val} / {r.rows.test} | {t.steps} | "
            f"{t.step_s:.1f} | {t.train_s:.0f} s | {r.peak_rss_mb / 1024:.1f} GB | "
            f"{mean_score(test['baseline']):.3f} | {mean_score(test['prompt']):.3f} | "
            f"{mean_score(test['finetuned']):.3f} | {both} | {c.gain:+.3f} "
            f"({c.ci_low:+.3f} to {c.ci_high:+.3f}) | {len(c.fixed)} / "
            f"{len(c.broken)} | {j.verdict} | {r.agreement.identical}/"
            f"{r.agreement.cases} | {needed if needed is not None else 'n/a'} | "
            f"{m.optimize_s:.0f} s + {m.finetune_s:.0f} s |"
        )
        print(f"<!-- {r.suite} [{m.arm}]: advice after the curve: {j.advice_after} -->")
    print()
    print(
        "| suite | arm | rows from | replies passing: best prompt -> fine-tuned | always passing | "
        "never passing | mean score over replies: gain (95% CI) |"
    )
    print("|---|---|---|---|---|---|---|")
    for m in measured:
        r = m.record
        cs = r.consistency
        if cs is None:
            continue
        before, after, cc = cs.arms["prompt"], cs.arms["finetuned"], cs.comparison
        sources = ", ".join(f"{n} {source}" for source, n in r.rows.sources.items())
        print(
            f"| {r.suite} | {m.arm} | {sources} | {before.pass_rate:.0%} -> {after.pass_rate:.0%} "
            f"({cs.samples} at T={cs.temperature:g}) | {before.always} -> {after.always} of "
            f"{after.cases} | {before.never} -> {after.never} | {cc.gain:+.3f} "
            f"({cc.ci_low:+.3f} to {cc.ci_high:+.3f}) |"
        )


if __name__ == "__main__":
    main()
