"""Run ``promptsuite optimize`` with its defaults on every known-answer suite and print the table.

Each suite (see ``make_suites.py``) has a known right answer: the prompt-fixable ones must
reach at least 0.8 on the held-out test split with a ``target-reached`` verdict; the
knowledge-gap ones must end in a plateau verdict that advises fine-tuning (or collecting
labels for it). Two are open-ended (free-text replies, no reference answer stated or
derivable): their train cases get references from the sampling stage, whose calls and
time are counted in the table. Every run happens in a fresh temporary copy with a fresh
cache, on the model given (default: the embedded one), exactly as a new user would type it::

    python benchmarks/known_answer/run.py [--model local] [--suite order_number ...]

``--against OPTIONS`` runs every suite twice, with the defaults and with these options, one
right after the other (which goes first alternates from suite to suite, so a machine's
drift falls on both), and prints the before/after table: model calls, tokens, wall time and
verdict of each, and the share the defaults spend. Issue 27's table is::

    python benchmarks/known_answer/run.py --against=--no-racing

It prints one row per suite (baseline and best test score, verdict, model calls, the tokens
of those calls, wall time) and whether the verdict is the right one, and exits 1 if any is
not. The tokens are read from the run's fresh response cache, which holds every call the run
made (the search's, the sampling stage's and the verification's), once each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from promptsuite.optimize import read_optimization_report

HERE = Path(__file__).resolve().parent
#: Suite -> (kind, the verdicts that are right for it).
EXPECTED = {
    "order_number": ("prompt-fixable (format)", {"target-reached"}),
    "short_reply": ("prompt-fixable (style, length)", {"target-reached"}),
    "card_intents": (
        "knowledge-gap (fine-grained intents)",
        {"plateau-finetune", "plateau-collect"},
    ),
    "queue_codes": ("knowledge-gap (unknowable mapping)", {"plateau-finetune", "plateau-collect"}),
    "polite_reply": ("open-ended, prompt-fixable (style)", {"target-reached"}),
    "team_reply": (
        "open-ended, knowledge-gap (unknowable mapping)",
        {"plateau-finetune", "plateau-collect"},
    ),
}


def run_suite(name: str, model: str | None, extra: list[str]) -> dict[str, object]:
    """One ``promptsuite optimize`` run in a fresh folder; its figures."""
    with tempfile.TemporaryDirectory(prefix=f"known-{name}-") as folder:
        work = Path(folder)
        for part in ("suites", "prompts"):
            (work / part).mkdir()
            shutil.copy(HERE / part / f"{name}.yaml", work / part)
        command = [sys.executable, "-m", "promptsuite.cli", "optimize", f"suites/{name}.yaml"]
        command += (["--model", model] if model else []) + extra
        started = time.perf_counter()
        result = subprocess.run(command, cwd=work, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"{name}: promptsuite optimize failed:\n{result.stderr}")
        [report] = (work / "reports" / "optimize").glob(f"{name}-*/optimization.json")
        saved = read_optimization_report(report)
        tokens = _cached_tokens(work / ".promptsuite" / "cache.sqlite")
    analysis, run = saved.analysis, saved.run
    verified = run.verification.model_calls if run.verification is not None else 0
    sampling = run.sampling
    sampled = sampling.usage.calls + sampling.teacher_usage.calls if sampling else 0
    kind, right = EXPECTED[name]
    return {
        "suite": name,
        "kind": kind,
        "baseline": analysis.final.baseline_score,
        "best": analysis.final.best_score,
        "source": analysis.final.source,
        "verdict": analysis.verdict.code,
        "right": analysis.verdict.code in right,
        "candidates": len(run.candidates),
        "calls": run.task_model_usage.calls + verified + sampled,
        "sampling_calls": sampled,
        "sampling_s": sampling.wall_s if sampling else 0.0,
        "references": f"{len(sampling.references())}/{len(sampling.cases)}" if sampling else "-",
        "tokens": tokens,
        "wall_s": wall,
    }


def _cached_tokens(path: Path) -> int:
    """Prompt and completion tokens of every response in a run's own cache."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT response FROM responses").fetchall()
    generations = [json.loads(response) for (response,) in rows]
    return sum(g.get("prompt_tokens", 0) + g.get("completion_tokens", 0) for g in generations)


def compare(suites: list[str], model: str | None, extra: list[str], against: list[str]) -> None:
    """Each suite with the defaults and with ``against``, alternating; the before/after table."""
    pairs = []
    for i, name in enumerate(suites):
        order = [("defaults", extra), ("against", [*extra, *against])]
        runs = dict(
            (label, run_suite(name, model, options))
            for label, options in (order if i % 2 == 0 else order[::-1])
        )
        pairs.append((runs["against"], runs["defaults"]))
        print(f"{name}: done", file=sys.stderr, flush=True)
    flag = " ".join(against)
    print(
        f"| suite | verdict ({flag}) | verdict (defaults) | model calls | tokens | wall time | "
        "calls, tokens, wall: defaults / " + flag + " |"
    )
    print("|---|---|---|---|---|---|---|")
    for before, after in pairs:
        print(
            f"| {after['suite']} | {before['verdict']} | {after['verdict']} | "
            f"{before['calls']} → {after['calls']} | {before['tokens']} → {after['tokens']} | "
            f"{before['wall_s']:.0f} s → {after['wall_s']:.0f} s | "
            f"{_share(after['calls'], before['calls'])}, "
            f"{_share(after['tokens'], before['tokens'])}, "
            f"{_share(after['wall_s'], before['wall_s'])} |"
        )
    right = all(r["right"] for pair in pairs for r in pair)
    same = all(b["verdict"] == a["verdict"] for b, a in pairs)
    print(f"\nevery verdict right: {right}; the same verdict both ways: {same}")
    sys.exit(0 if right else 1)


def _share(after: object, before: object) -> str:
    assert isinstance(after, int | float) and isinstance(before, int | float)
    return f"{after / before:.0%}" if before else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="task model (default: each suite's own, the embedded one)")
    parser.add_argument("--suite", action="append", choices=sorted(EXPECTED), help="repeatable")
    parser.add_argument(
        "--against",
        metavar="OPTIONS",
        help="also run each suite with these options and print the two side by side",
    )
    parser.add_argument("extra", nargs="*", help="more options for promptsuite optimize")
    args = parser.parse_args()
    if args.against is not None:
        compare(args.suite or list(EXPECTED), args.model, args.extra, shlex.split(args.against))
        return
    rows = [run_suite(name, args.model, args.extra) for name in args.suite or EXPECTED]
    print(
        "| suite | kind | baseline test | best test | verdict | right | candidates | "
        "model calls | tokens | sampled references | sampling calls | sampling time | wall time |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['suite']} | {r['kind']} | {r['baseline']:.3f} | {r['best']:.3f} | "
            f"{r['verdict']} | {'yes' if r['right'] else 'NO'} | {r['candidates']} | "
            f"{r['calls']} | {r['tokens']} | {r['references']} | {r['sampling_calls']} | "
            f"{r['sampling_s']:.0f} s | {r['wall_s']:.0f} s |"
        )
    sys.exit(0 if all(r["right"] for r in rows) else 1)


if __name__ == "__main__":
    main()
