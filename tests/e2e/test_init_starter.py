"""``promptsuite init`` in an empty folder, then the starter's whole life on the embedded model:
a green first run that records the answers, a baseline, and the replay its CI workflow runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from promptsuite.cache import ResponseCache

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("embedded_model")]


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites/", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_starter_runs_green_records_a_baseline_and_replays_like_its_ci(
    tmp_path: Path,
) -> None:
    init = subprocess.run(
        [sys.executable, "-m", "promptsuite.cli", "init"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote suites/assistant.yaml" in init.stdout
    first = pytest_in(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    assert "6 passed" in first.stdout and "model calls: 6, cache hits: 0" in first.stdout
    cassette = tmp_path / "suites" / "__cassettes__" / "responses.sqlite"
    recorded = ResponseCache(cassette)
    assert len(recorded) == 6
    recorded.close()

    record = pytest_in(tmp_path, "--promptsuite-update-baseline")
    assert (
        record.returncode == 0
        and "baseline written: suites/__baselines__/assistant.json" in record.stdout
    )

    # What the starter's workflow runs on a pull request.
    workflow = yaml.safe_load(
        (tmp_path / ".github" / "workflows" / "prompt-regression.yml").read_text()
    )
    [command] = [
        s["run"] for s in workflow["jobs"]["suites"]["steps"] if "pytest" in s.get("run", "")
    ]
    args = command.split()[2:]
    assert args[:2] == ["--promptsuite-cache", "replay"]
    replay = pytest_in(tmp_path, *args)
    assert replay.returncode == 0, replay.stdout[-3000:]
    assert "7 passed" in replay.stdout  # six cases and the suite gate
    assert "model calls: 0, cache hits: 6" in replay.stdout
