"""``promptsuite review`` in a real browser: Debian's chromium, headless, driven by playwright.

A real run (a pytest session in a subprocess, scripted model and scripted judge) writes
the results; the review server serves them on 127.0.0.1; the test labels outputs with the
keyboard and the mouse, reads the labels file back, and ``promptsuite calibrate`` reads it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptsuite.cli import main
from promptsuite.gate import digest
from promptsuite.labels import read_labels
from promptsuite.report import read_results
from promptsuite.review import ReviewQueue, ReviewServer

REASON = "words of the grader itself"
SUITE = f"""
name: support
prompt: {{user: '{{{{ q }}}}'}}
models: [{{provider: scripted, label: bot}}]
defaults:
  expect:
    - type: judge
      metric: helpful
      rubric: The reply offers a concrete next step.
      grader:
        provider: scripted
        label: grader
        reply: '{{"reason": "{REASON}", "score": 0.9, "pass": true}}'
cases:
  - {{id: refund, vars: {{q: "We will refund you today."}}}}
  - {{id: late, vars: {{q: "Sorry."}}}}
  - {{id: locked, vars: {{q: "Reset your password with the link we sent."}}}}
  - {{id: rude, vars: {{q: "<b>Not</b> our problem."}}}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review")
    (root / "suites").mkdir()
    (root / "suites" / "support.yaml").write_text(textwrap.dedent(SUITE), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (root / "reports" / "latest.json").is_file(), done.stdout + done.stderr
    return root


@pytest.fixture
def server(project: Path) -> Iterator[ReviewServer]:
    run = read_results(project / "reports" / "latest.json")
    serving = ReviewServer(ReviewQueue.of(run, project, labeller="tester"))
    serving.start()
    yield serving
    serving.stop()


def labels_file(project: Path) -> Path:
    return project / "suites" / "__labels__" / "support.jsonl"


def open_page(browser: Any, server: ReviewServer) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    page.goto(server.url)
    page.wait_for_selector("#case:not(:empty)")
    return page


def test_label_with_keys_and_clicks_then_calibrate_reads_the_file(
    browser: Any, server: ReviewServer, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = open_page(browser, server)
    assert page.text_content("#progress") == "0 of 4 labelled"
    assert page.text_content("#case") == "late"  # the run's order: by test id
    assert page.text_content("#rubric") == "The reply offers a concrete next step."
    assert page.text_content("#output") == "Sorry."
    # The grader's verdict stays off the page until the person answers.
    assert page.is_hidden("#verdict")
    assert REASON not in page.content()

    page.keyboard.press("f")
    page.wait_for_selector("#saved:text-is('saved: fail')")
    assert page.is_visible("#verdict")
    assert page.text_content("#judge-verdict") == "pass"
    assert REASON in page.text_content("#judge-reason")
    assert page.text_content("#agreement") == "(disagrees with you)"

    page.keyboard.press("n")
    page.wait_for_selector("#case:text-is('locked')")
    assert page.is_hidden("#verdict")
    page.keyboard.press("s")
    page.keyboard.type("0.8")
    page.keyboard.press("Escape")
    page.keyboard.press("c")
    page.keyboard.type("clear next step")
    page.keyboard.press("Escape")
    page.keyboard.press("p")
    page.wait_for_selector("#saved:text-is('saved: pass')")
    assert page.text_content("#agreement") == "(agrees with you)"

    page.click("#next")
    page.wait_for_selector("#case:text-is('refund')")
    page.click("#pass")
    page.wait_for_selector("#saved:text-is('saved: pass')")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#case:text-is('rude')")
    assert page.text_content("#output") == "<b>Not</b> our problem."  # text, never markup
    assert page.query_selector("#output b") is None

    page.keyboard.press("b")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#case:text-is('locked')")
    assert page.text_content("#saved") == "your label: pass"
    assert page.input_value("#score") == "0.8"
    assert page.input_value("#comment") == "clear next step"
    assert page.text_content("#progress") == "3 of 4 labelled"
    assert page.errors == []

    found = read_labels(labels_file(project))
    assert found.problems == []
    labels = {placed.label.case: placed.label for placed in found.labels}
    assert {case: label.label for case, label in labels.items()} == {
        "late": "fail",
        "locked": "pass",
        "refund": "pass",
    }
    locked = labels["locked"]
    assert (locked.score, locked.comment, locked.labeller) == (0.8, "clear next step", "tester")
    assert locked.output_digest == digest("Reset your password with the link we sent.")
    assert locked.rubric == "The reply offers a concrete next step."
    assert locked.check == "helpful"

    # Answering again replaces the label of that output; no line is added.
    page.keyboard.press("f")
    page.wait_for_selector("#saved:text-is('saved: fail')")
    lines = labels_file(project).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert json.loads(lines[-1])["case"] == "locked" and json.loads(lines[-1])["label"] == "fail"

    # A fresh page starts at the first output without a label.
    fresh = open_page(browser, server)
    assert fresh.text_content("#case") == "rude"
    assert fresh.text_content("#progress") == "3 of 4 labelled"

    results = project / "reports" / "latest.json"
    assert main(["calibrate", str(results), "--root", str(project), "--json"]) == 0
    judges = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(judges) == 1
    judge = judges[0]
    assert judge["judge"].startswith("judge@grader#")
    # The grader passed all three; people failed two: agreement 1/3, kappa 0.
    assert (judge["n"], judge["kappa"], judge["confusion"]["judge_only"]) == (3, 0.0, 2)
    assert judge["agreement"] == pytest.approx(1 / 3)
    assert {"ci_low", "ci_high"} <= set(judge)
    written = json.loads(results.read_text(encoding="utf-8"))["metadata"]["calibration"]
    assert written["judges"][0]["n"] == 3 and written["unlabelled"] == 1


def test_the_server_answers_only_this_page(server: ReviewServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    for request in (
        urllib.request.Request(f"{base}/"),
        urllib.request.Request(f"{base}/items"),
        urllib.request.Request(f"{base}/items", headers={"X-Review-Token": "guess"}),
        urllib.request.Request(
            f"{base}/items", headers={"X-Review-Token": server.token, "Host": "evil.example"}
        ),
        urllib.request.Request(f"{base}/label", data=b'{"item": 0, "label": "pass"}'),
    ):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
    bad = urllib.request.Request(
        f"{base}/label",
        data=b'{"item": 0, "label": "maybe"}',
        headers={"X-Review-Token": server.token, "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=10)
    assert refused.value.code == 400
    assert (
        json.loads(refused.value.read())["error"] == "label: expected 'pass' or 'fail', got 'maybe'"
    )
