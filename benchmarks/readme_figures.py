"""The README's figures about the example suites on the embedded model, from real runs.

Every part runs in a fresh copy of the project's ``suites/``, ``prompts/``, ``data/`` and
``pyproject.toml`` (a fresh clone's state: no response cache, no reports), as a user runs
it, and prints:

- ``cold``: ``pytest suites/`` on the embedded model: pytest's outcome line and time, the
  wall time, and the promptsuite summary block (the README's "What a run looks like");
- ``parallel``: the same with ``PROMPTSUITE_LOCAL_PARALLEL=4``: its time and outcome line,
  and the cases whose verdict or output differs from the cold (1-slot) run;
- ``replay``: ``pytest suites/`` replayed from the committed cassette (0 model calls): its
  time, and how many of the cold run's outputs differ from the recorded ones;
- ``init``: ``promptsuite init`` then ``pytest suites/`` in an empty folder.

The load average is printed before each part: figures taken while other work runs are
slower than on a quiet machine.

    python benchmarks/readme_figures.py
    python benchmarks/readme_figures.py --only cold,replay
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptsuite.models import ModelSpec
from promptsuite.models.local import LocalSettings

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("suites", "prompts", "data", "pyproject.toml")
CASSETTE = "suites/__cassettes__/responses.sqlite"
PARTS = ("cold", "parallel", "replay", "init")
#: pytest's last line: ``===== 16 passed, 28 xfailed in 68.12s (0:01:08) =====``.
_OUTCOME = re.compile(r"^=+ (?P<outcome>.+) in (?P<seconds>[\d.]+)s(?: \([\d:]+\))? =+$")


@dataclass(frozen=True)
class Run:
    """One ``pytest suites/`` run: what pytest said, how long it took, what it wrote."""

    outcome: str
    pytest_s: float
    wall_s: float
    summary: list[str]
    results: dict[str, Any]

    def cases(self) -> dict[str, dict[str, Any]]:
        """The results file's cases by test id."""
        return {c["test_id"]: c for c in self.results.get("cases", [])}


def run_pytest(folder: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """``pytest suites/ ARGS`` in ``folder``, timed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/", *args],
        cwd=folder,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    lines = done.stdout.splitlines()
    last = next((m for line in reversed(lines) if (m := _OUTCOME.match(line))), None)
    if last is None:
        raise SystemExit(f"pytest gave no outcome line in {folder}:\n{done.stdout[-3000:]}")
    header = next((i for i, line in enumerate(lines) if " promptsuite " in line), len(lines))
    results_file = folder / "reports" / "latest.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    return Run(last["outcome"], float(last["seconds"]), wall, lines[header:], results)


def fresh_copy(into: Path) -> Path:
    """The project's suites, prompts, data and pyproject.toml, as a fresh clone has them."""
    for name in PROJECT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name)
        else:
            shutil.copy2(source, into / name)
    return into


def load_line(part: str) -> None:
    """The machine's load, and the threads the embedded model takes at this load."""
    loads = " ".join(f"{x:.2f}" for x in os.getloadavg())
    threads = LocalSettings.from_spec(ModelSpec("local")).threads
    print(
        f"\n[{part}] load average {loads} on {os.cpu_count()} cpus; the embedded model takes "
        f"{threads} thread(s) at this load",
        flush=True,
    )


def show(run: Run, what: str) -> None:
    print(f"{what}: {run.outcome} in {run.pytest_s:.1f} s (wall {run.wall_s:.1f} s)")


def differences(base: Run, other: Run) -> tuple[list[str], list[str]]:
    """(cases whose verdict differs, cases whose first output differs) between two runs."""
    ours, theirs = base.cases(), other.cases()
    verdicts, outputs = [], []
    for test_id in sorted(set(ours) & set(theirs)):
        a, b = ours[test_id], theirs[test_id]
        if (a["passed"], a["error"] is None) != (b["passed"], b["error"] is None):
            verdicts.append(f"{test_id}: {_verdict(a)} -> {_verdict(b)}")
        if [r["output"] for r in a["repeats"]] != [r["output"] for r in b["repeats"]]:
            outputs.append(test_id)
    return verdicts, outputs


def _verdict(case: dict[str, Any]) -> str:
    if case["error"] is not None:
        return "error"
    return "pass" if case["passed"] else "fail"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"parts to run, of {', '.join(PARTS)}"
    )
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; expected some of {', '.join(PARTS)}")
    cold: Run | None = None
    with tempfile.TemporaryDirectory(prefix="readme-figures-") as scratch:
        work = Path(scratch)
        if {"cold", "parallel", "replay"} & set(parts):
            load_line("cold")
            cold = run_pytest(fresh_copy(work / "cold"))
            show(cold, "pytest suites/ (embedded model, cold)")
            print(f"model calls: {cold.results.get('metadata', {}).get('model_calls')}")
            print("what it printed from its summary on (README: What a run looks like):")
            print("\n".join(cold.summary))
        if "parallel" in parts and cold is not None:
            load_line("parallel")
            env = {"PROMPTSUITE_LOCAL_PARALLEL": "4"}
            parallel = run_pytest(fresh_copy(work / "parallel"), env=env)
            show(parallel, "PROMPTSUITE_LOCAL_PARALLEL=4 pytest suites/")
            verdicts, outputs = differences(cold, parallel)
            print(f"verdicts that differ from the 1-slot run: {len(verdicts)}")
            print("\n".join(f"  {line}" for line in verdicts))
            print(f"outputs that differ from the 1-slot run: {len(outputs)} of {len(cold.cases())}")
        if "replay" in parts and cold is not None:
            load_line("replay")
            replay = run_pytest(
                fresh_copy(work / "replay"),
                "--promptsuite-cache",
                "replay",
                "--promptsuite-cache-path",
                CASSETTE,
            )
            show(replay, f"pytest suites/ replayed from {CASSETTE}")
            print(f"model calls: {replay.results.get('metadata', {}).get('model_calls')}")
            verdicts, outputs = differences(cold, replay)
            print(
                f"cold outputs that differ from the recorded ones: {len(outputs)} of "
                f"{len(cold.cases())} (verdicts that differ: {len(verdicts)})"
            )
        if "init" in parts:
            load_line("init")
            starter = work / "init"
            starter.mkdir()
            subprocess.run(
                [sys.executable, "-m", "promptsuite.cli", "init"],
                cwd=starter,
                check=True,
                capture_output=True,
            )
            show(run_pytest(starter), "promptsuite init, then pytest suites/")


if __name__ == "__main__":
    main()
