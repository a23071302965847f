"""Helpers for tests that run the project's example suites and read their baselines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"
BASELINES = SUITES / "__baselines__"


def run_example_suites(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``pytest suites`` from the project root in a subprocess with extra arguments."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def recorded_verdicts() -> dict[str, bool]:
    """``{test id: passed}`` from the committed baselines."""
    verdicts = {}
    for path in sorted(BASELINES.glob("*.json")):
        for entry in json.loads(path.read_text())["entries"].values():
            test_id = f"suites/{path.stem}.yaml::{entry['case_id']}[{entry['model']}]"
            verdicts[test_id] = bool(entry["passed"])
    return verdicts


def recorded_outputs() -> dict[str, str]:
    """``{test id: the first repeat's output}`` from the committed baselines."""
    outputs = {}
    for path in sorted(BASELINES.glob("*.json")):
        for entry in json.loads(path.read_text())["entries"].values():
            test_id = f"suites/{path.stem}.yaml::{entry['case_id']}[{entry['model']}]"
            outputs[test_id] = str(entry["repeats"][0].get("output", ""))
    return outputs
