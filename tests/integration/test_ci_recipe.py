"""The ready CI recipes: valid GitHub workflows that replay committed responses, shard a
run over machines, and post the verdict where reviewers look."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.example_suites import ROOT, SUITES, recorded_verdicts, run_example_suites
from tests.system_tools import debian_tool

WORKFLOW = ROOT / ".github" / "workflows" / "prompt-regression.yml"
MATRIX = ROOT / "docs" / "ci" / "prompt-regression-sharded.yml"
STARTER = ROOT / "promptsuite" / "starter" / "files" / "workflow.yml"
CASSETTE = SUITES / "__cassettes__" / "responses.sqlite"


@pytest.mark.parametrize("workflow", [WORKFLOW, MATRIX, STARTER], ids=lambda p: p.name)
def test_workflow_is_valid_against_githubs_schema(workflow: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def steps(workflow: Path, job: str) -> list[dict[str, Any]]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    found: list[dict[str, Any]] = jobs[job]["steps"]
    return found


def comment_job(workflow: Path) -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load(workflow.read_text())["jobs"]["comment"]
    return job


@pytest.mark.parametrize("workflow", [WORKFLOW, MATRIX, STARTER], ids=lambda p: p.name)
def test_only_the_comment_job_may_write_and_only_on_pull_requests(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())
    assert data["permissions"] == {"contents": "read"}
    for name, job in data["jobs"].items():
        if name != "comment":
            assert "permissions" not in job  # the workflow's read-only token
    job = comment_job(workflow)
    assert job["permissions"] == {"pull-requests": "write"}
    assert "github.event_name == 'pull_request'" in job["if"]
    assert not any("checkout" in step.get("uses", "") for step in job["steps"])
    uploaded = [
        s
        for j in data["jobs"].values()
        for s in j["steps"]
        if "upload-artifact" in s.get("uses", "")
    ]
    assert any(s["with"]["name"] == "promptsuite-results" for s in uploaded)


def test_the_three_workflows_post_the_comment_alike() -> None:
    scripts = {
        path.name: comment_job(path)["steps"][-1]["run"] for path in (WORKFLOW, MATRIX, STARTER)
    }
    assert len(set(scripts.values())) == 1, scripts


FAKE_GH = """\
#!/usr/bin/env python3
# A stand-in for the GitHub CLI's `gh api`: issue comments kept in a JSON file, filtered
# with the real jq as `gh api --jq` filters with gojq.
import json, os, subprocess, sys

store = os.environ["FAKE_GH_STORE"]
comments = json.load(open(store))
args = sys.argv[1:]
assert args[0] == "api", args
method = args[args.index("--method") + 1] if "--method" in args else "GET"
path = next(a for a in args[1:] if a.startswith("repos/"))
body = None
if "-F" in args:
    field = args[args.index("-F") + 1]
    assert field.startswith("body=@"), field
    body = open(field[len("body=@"):]).read()
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(f"{method} {path}\\n")
if method == "GET":
    assert path == f"repos/{os.environ['GITHUB_REPOSITORY']}/issues/7/comments"
    jq = args[args.index("--jq") + 1]
    found = subprocess.run(
        ["jq", "-r", jq], input=json.dumps(comments), capture_output=True, text=True, check=True
    )
    sys.stdout.write(found.stdout)
elif method == "POST":
    comments.append({"id": 100 + len(comments), "user": {"type": "Bot"}, "body": body})
elif method == "PATCH":
    number = int(path.rsplit("/", 1)[1])
    next(c for c in comments if c["id"] == number)["body"] = body
json.dump(comments, open(store, "w"))
"""


def test_the_comment_is_posted_once_then_updated(tmp_path: Path) -> None:
    debian_tool("jq")  # the fake filters with the real jq, as `gh --jq` does with gojq
    script = comment_job(WORKFLOW)["steps"][-1]["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    store, log = tmp_path / "comments.json", tmp_path / "calls.log"
    # Someone else's comment, and a bot's that only quotes the marker later on.
    store.write_text(
        json.dumps(
            [
                {"id": 1, "user": {"type": "User"}, "body": "<!-- promptsuite:summary --> me"},
                {"id": 2, "user": {"type": "Bot"}, "body": "see <!-- promptsuite:summary -->"},
            ]
        )
    )
    (tmp_path / "reports").mkdir()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_GH_STORE": str(store),
        "FAKE_GH_LOG": str(log),
        "GITHUB_REPOSITORY": "acme/prompts",
        "PR_NUMBER": "7",
        "GH_TOKEN": "not-a-token",
    }
    for attempt in ("first verdict", "second verdict"):
        (tmp_path / "reports" / "summary.md").write_text(
            f"<!-- promptsuite:summary -->\n{attempt}\n"
        )
        subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, check=True)
    comments = json.loads(store.read_text())
    assert [c["id"] for c in comments] == [1, 2, 102]
    assert comments[2]["body"] == "<!-- promptsuite:summary -->\nsecond verdict\n"
    assert comments[0]["body"].endswith(" me") and comments[1]["body"].startswith("see")
    assert log.read_text().splitlines() == [
        "GET repos/acme/prompts/issues/7/comments",
        "POST repos/acme/prompts/issues/7/comments",
        "GET repos/acme/prompts/issues/7/comments",
        "PATCH repos/acme/prompts/issues/comments/102",
    ]


def test_the_matrix_recipe_runs_the_commands_the_shard_tests_run() -> None:
    shard = " ".join(s.get("run", "") for s in steps(MATRIX, "shard"))
    assert "--promptsuite-shard ${{ matrix.shard }}/${{ strategy.job-total }}" in shard
    merge = " ".join(s.get("run", "") for s in steps(MATRIX, "merge"))
    assert "promptsuite merge shards/reports/shard-*.json -o reports/latest.json" in merge
    assert "--cache shards/.promptsuite/cache.shard-*.sqlite --cache-out" in merge
    uploads = [s for s in steps(MATRIX, "shard") if "upload-artifact" in s.get("uses", "")]
    paths = uploads[0]["with"]["path"].split()
    assert "reports/shard-*.json" in paths and ".promptsuite/cache.shard-*.sqlite" in paths
    assert uploads[0]["with"]["include-hidden-files"] is True  # .promptsuite/ is hidden


def test_the_starter_workflow_replays_what_the_starter_records() -> None:
    command = " ".join(step.get("run", "") for step in steps(STARTER, "suites"))
    assert "--promptsuite-cache replay" in command
    pyproject = (ROOT / "promptsuite" / "starter" / "files" / "pyproject.toml").read_text()
    assert 'cache-path = "suites/__cassettes__/responses.sqlite"' in pyproject


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
    # Every request from the cassette: one per case, more for a conversation's turns.
    run = json.loads((tmp_path / "reports" / "latest.json").read_text())
    requests = sum(r["generation"].get("calls", 1) for c in run["cases"] for r in c["repeats"])
    assert requests >= len(verdicts)
    assert f"model calls: 0, cache hits: {requests}" in result.stdout
