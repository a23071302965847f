"""The ready CI recipe: a valid GitHub workflow that replays committed responses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.example_suites import ROOT, SUITES, recorded_verdicts, run_example_suites

WORKFLOW = ROOT / ".github" / "workflows" / "prompt-regression.yml"
CASSETTE = SUITES / "__cassettes__" / "responses.sqlite"


def test_workflow_is_valid_against_githubs_schema() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_replays_the_committed_cassette() -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["suites"]["steps"]
    command = " ".join(step.get("run", "") for step in steps)
    assert "--promptsuite-cache replay" in command
    assert f"--promptsuite-cache-path {CASSETTE.relative_to(ROOT)}" in command


def test_replaying_the_cassette_reproduces_the_committed_verdicts(tmp_path: Path) -> None:
    # What the workflow runs, on a copy of the cassette (replay never writes, but a test
    # must not touch committed files).
    cassette = tmp_path / "responses.sqlite"
    cassette.write_bytes(CASSETTE.read_bytes())
    result = run_example_suites(
        "--promptsuite-cache",
        "replay",
        "--promptsuite-cache-path",
        str(cassette),
        "--promptsuite-baseline-missing",
        "fail",
        "--promptsuite-results",
        str(tmp_path / "reports"),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    verdicts = recorded_verdicts()
    passed = sum(verdicts.values())
    suites = len({test_id.split("::")[0] for test_id in verdicts})
    # Every recorded pass passes again, every recorded failure is a known failure, and each
    # suite's gate passes.
    assert f"{passed + suites} passed, {len(verdicts) - passed} xfailed" in result.stdout
    assert f"model calls: 0, cache hits: {len(verdicts)}" in result.stdout
