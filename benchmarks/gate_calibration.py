"""Calibrate the suite gate end to end: real ``pytest`` runs through the plugin.

A/A: record a baseline, then run the *same* prompt again ``--runs`` times with sampling noise
(temperature > 0, a different seed each run). Every ``fail`` verdict is a false alarm.
A/B: the same, with a deliberately damaged prompt. Every ``fail`` verdict is a detection.

Backends:
    scripted  A seeded noise model with known per-case pass probabilities (fast; the
              damaged prompt lowers every probability by ``--damage``).
    local     The embedded model on the Banking77 example suite at ``--temperature``; the
              damaged prompt drops the label descriptions and the few-shot examples.

Usage::

    python benchmarks/gate_calibration.py --backend scripted --runs 20
    python benchmarks/gate_calibration.py --backend local --runs 20 --repeat 1

Each run is a separate ``python -m pytest`` process in a temporary project, with the cache
off, so every figure comes from the real plugin, runner, baseline and gate code.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NOISE_MODEL = '''
"""A seeded noise model: case i passes each sample with probability P[i] (minus damage)."""
import hashlib
import random

N_CASES = {n_cases}
DAMAGE = {damage}
_draw = random.Random(20241101)
# A realistic mix: cases the prompt nearly always gets right, ones it nearly always gets
# wrong, and a noisy middle.
P = [
    0.95 if i % 10 < 4 else 0.05 if i % 10 < 7 else _draw.uniform(0.2, 0.8)
    for i in range(N_CASES)
]


def answer(messages, params):
    case = int(messages[-1]["content"].split()[-1])
    damaged = "DAMAGED" in messages[0]["content"]
    p = max(0.0, P[case] - DAMAGE) if damaged else P[case]
    key = f"{{params['seed']}}|{{case}}|{{params['repeat']}}".encode()
    u = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    return "yes" if u < p else "no"
'''


@dataclass(frozen=True)
class GateRun:
    """One run's gate, as its results file recorded it, and how long the run took."""

    decision: str
    mean_diff: float
    cases_needed: int
    seconds: float


def scripted_project(folder: Path, n_cases: int, damage: float) -> None:
    (folder / "noise_model.py").write_text(
        textwrap.dedent(NOISE_MODEL.format(n_cases=n_cases, damage=damage))
    )
    (folder / "prompts").mkdir()
    (folder / "suites").mkdir()


def write_scripted(folder: Path, seed: int, repeat: int, damaged: bool) -> None:
    system = "DAMAGED prompt" if damaged else "Answer yes or no."
    (folder / "prompts" / "p.yaml").write_text(
        f"system: {system!r}\nuser: 'question {{{{ i }}}}'\n"
    )
    cases = "\n".join(
        f"  - {{id: c{i}, vars: {{i: {i}}}, expect: [{{type: equals, value: 'yes'}}]}}"
        for i in range(_n_cases(folder))
    )
    (folder / "suites" / "cal.yaml").write_text(
        "prompt: ../prompts/p.yaml\n"
        "models: [{provider: scripted, label: noisy, script: 'noise_model:answer'}]\n"
        f"defaults: {{temperature: 0.8, seed: {seed}, repeat: {repeat}, reducer: mean}}\n"
        f"cases:\n{cases}\n"
    )


def _n_cases(folder: Path) -> int:
    for line in (folder / "noise_model.py").read_text().splitlines():
        if line.startswith("N_CASES"):
            return int(line.split("=")[1])
    raise RuntimeError("noise model without N_CASES")


def local_project(folder: Path) -> None:
    shutil.copytree(ROOT / "prompts", folder / "prompts")
    (folder / "suites").mkdir()
    # The suite loads its cases from this file, beside the suite as in the project.
    (folder / "data" / "banking77").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "banking77" / "cases.csv", folder / "data" / "banking77")


def write_local(folder: Path, seed: int, repeat: int, damaged: bool, temperature: float) -> None:
    import yaml

    prompt = yaml.safe_load((ROOT / "prompts" / "banking77_intents.yaml").read_text())
    if damaged:
        # The damage a careless edit does: the label list and the examples are gone.
        prompt["system"] = "You classify messages from bank customers. Reply with one label."
        prompt.pop("examples", None)
    (folder / "prompts" / "banking77_intents.yaml").write_text(yaml.safe_dump(prompt))
    suite = yaml.safe_load((ROOT / "suites" / "banking77_intents.yaml").read_text())
    suite["defaults"].update(temperature=temperature, seed=seed, repeat=repeat, reducer="mean")
    (folder / "suites" / "banking77_intents.yaml").write_text(yaml.safe_dump(suite))


def run_pytest(folder: Path, *extra: str) -> tuple[dict[str, object], float]:
    started = time.perf_counter()
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-q",
            "-p",
            "no:cacheprovider",
            "--promptsuite-cache",
            "off",
            "--promptsuite-gate-inconclusive",
            "pass",
            *extra,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    latest = folder / "reports" / "latest.json"
    if process.returncode not in (0, 1) or not latest.exists():
        raise RuntimeError(f"pytest failed ({process.returncode}):\n{process.stdout[-3000:]}")
    data = json.loads(latest.read_text())
    latest.unlink()
    return data, elapsed


def gate_run(data: dict[str, object], seconds: float) -> GateRun:
    metadata = data["metadata"]
    assert isinstance(metadata, dict)
    (gate,) = metadata["gates"]
    return GateRun(gate["verdict"], gate["mean_diff"], gate["cases_needed"], seconds)


def calibrate(
    backend: str,
    runs: int,
    repeat: int = 3,
    damage: float = 0.25,
    temperature: float = 0.8,
    n_cases: int = 40,
    ab_runs: int | None = None,
) -> dict[str, list[GateRun]]:
    """Record a baseline at seed 0, then ``runs`` A/A and ``ab_runs`` (default ``runs``)
    A/B runs, each with its own seed."""
    with tempfile.TemporaryDirectory(prefix="promptsuite-cal-") as tmp:
        folder = Path(tmp)
        if backend == "scripted":
            scripted_project(folder, n_cases, damage)

            def write(seed: int, damaged: bool) -> None:
                write_scripted(folder, seed, repeat, damaged)
        else:
            local_project(folder)

            def write(seed: int, damaged: bool) -> None:
                write_local(folder, seed, repeat, damaged, temperature)

        write(0, False)
        run_pytest(folder, "--promptsuite-update-baseline")
        outcomes: dict[str, list[GateRun]] = {"A/A": [], "A/B": []}
        plan = (("A/A", False, runs), ("A/B", True, runs if ab_runs is None else ab_runs))
        for label, damaged, count in plan:
            for seed in range(1, count + 1):
                write(seed, damaged)
                outcomes[label].append(gate_run(*run_pytest(folder)))
        return outcomes


def report(outcomes: dict[str, list[GateRun]]) -> str:
    from tabulate import tabulate

    rows = []
    for label, results in outcomes.items():
        decisions = Counter(o.decision for o in results)
        n = len(results)
        rows.append(
            [
                label,
                n,
                decisions["fail"],
                decisions["inconclusive"],
                decisions["pass"],
                f"{decisions['fail'] / n:.0%}",
                f"{statistics.median(o.mean_diff for o in results):+.3f}",
                f"{statistics.median(o.seconds for o in results):.1f} s",
            ]
        )
    headers = ["test", "runs", "fail", "inconclusive", "pass", "fail rate", "median diff", "run"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["scripted", "local"], default="scripted")
    parser.add_argument("--runs", type=int, default=20, help="A/A runs")
    parser.add_argument("--ab-runs", type=int, help="A/B runs (default: --runs)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--damage", type=float, default=0.25, help="scripted: pass-rate drop")
    parser.add_argument("--temperature", type=float, default=0.8, help="local: sampling")
    parser.add_argument("--cases", type=int, default=40, help="scripted: number of cases")
    parser.add_argument("--json", help="also write the outcomes here")
    args = parser.parse_args()
    outcomes = calibrate(
        args.backend,
        args.runs,
        args.repeat,
        args.damage,
        args.temperature,
        args.cases,
        args.ab_runs,
    )
    print(report(outcomes))
    if args.json:
        Path(args.json).write_text(
            json.dumps({k: [o.__dict__ for o in v] for k, v in outcomes.items()}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
