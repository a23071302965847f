"""Reports of a real run: pytest against an OpenAI-compatible server on 127.0.0.1, then
``promptsuite report`` / ``export`` on its results file."""

from __future__ import annotations

import csv
import json
import textwrap
from typing import Any

# pytester drops the modules a test imported when it ends, and numpy cannot be imported a
# second time in one process: load the exports' pandas (and numpy) before any test runs.
import pandas  # noqa: F401
import pytest

from promptsuite.cli import main
from promptsuite.results import load
from tests.stub_server import Reply, StubServer

SECRET = "sk-test-REPORT-SECRET-9876543210"
SUITE = """
prompt: {{system: "Echo the user.", user: "{{{{ text }}}}"}}
models:
  - {{provider: openai, model: gpt-4o-mini, label: mini, base_url: "{base_url}",
     backoff_base: 0.01, max_retries: 1, timeout: 5}}
cases:
  - {{id: greet, vars: {{text: "hello world"}}, expect: [{{type: contains, value: world}}]}}
  - {{id: hostile, vars: {{text: "x"}}, expect: [{{type: contains, value: safe}}]}}
  - {{id: numbers, vars: {{text: "one two"}}, expect: [{{type: regex, value: "\\\\d"}}]}}
"""
HOSTILE_REPLY = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


def behavior(index: int, body: dict[str, Any]) -> Reply | None:
    if body["messages"][-1]["content"] == "x":
        return Reply(HOSTILE_REPLY)
    return None


def run_suite(pytester: pytest.Pytester, stub: StubServer, *extra: str) -> pytest.RunResult:
    pytester.makefile(
        ".yaml",
        **{"suites/echo": textwrap.dedent(SUITE.format(base_url=stub.base_url))},
    )
    return pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", "-q", *extra)


def test_report_and_exports_of_a_real_run_never_hold_the_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with StubServer(behavior=behavior, record=True) as stub:
        result = run_suite(pytester, stub, "--promptsuite-cache", "off")
        # The key really was used: every request carried it.
        assert {r.headers.get("authorization") for r in stub.received()} == {f"Bearer {SECRET}"}
    result.assert_outcomes(passed=1, failed=2)
    reports = pytester.path / "reports"
    results = reports / "latest.json"
    capsys.readouterr()
    assert main(["report", str(results), "--root", str(pytester.path)]) == 0
    assert main(["export", str(results), "--out", str(reports / "rows.csv")]) == 0
    assert main(["export", str(results), "--out", str(reports / "checks.jsonl"), "--checks"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [
        str(reports / "latest.html"),
        str(reports / "rows.csv"),
        str(reports / "checks.jsonl"),
    ]

    html = (reports / "latest.html").read_text(encoding="utf-8")
    assert "greet" in html and "hostile" in html and "$0.0000" in html  # a priced model
    assert HOSTILE_REPLY not in html
    with (reports / "rows.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["case_id"]: r["passed"] for r in rows} == {
        "greet": "True",
        "hostile": "False",
        "numbers": "False",
    }
    assert next(r for r in rows if r["case_id"] == "hostile")["output"] == HOSTILE_REPLY
    checks = [json.loads(line) for line in (reports / "checks.jsonl").read_text().splitlines()]
    assert [c["type"] for c in checks] == ["contains", "contains", "regex"]
    written = [p for p in pytester.path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(p.suffix == ".html" for p in written) and any(p.suffix == ".json" for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), f"{path} holds the API key"


def test_report_shows_regressions_against_the_recorded_baseline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with StubServer() as stub:
        run_suite(pytester, stub, "--promptsuite-update-baseline")
    # Now every answer changes: `greet` (passing in the baseline) regresses.
    with StubServer(behavior=lambda index, body: Reply("nothing to see")) as stub:
        outcome = run_suite(pytester, stub, "--promptsuite-cache", "off")
    outcome.stdout.fnmatch_lines(["*REGRESSION: passed in the baseline*"])
    results = pytester.path / "reports" / "latest.json"
    out = pytester.path / "report.html"
    assert main(["report", str(results), "--out", str(out), "--root", str(pytester.path)]) == 0
    html = out.read_text(encoding="utf-8")
    data = json.loads(html.split('id="report-data">', 1)[1].split("</script>", 1)[0])
    cells = {row["c"]: cell for row in data["rows"] for cell in row["x"].values()}
    assert cells["greet"]["k"] == "regression"
    assert cells["greet"]["bs"]["same"] == [False]
    assert data["rows"][0]["c"] == "greet"  # the most urgent row comes first
    assert "Output changed since the baseline" in html
    verdict = load(results).metadata["gates"][0]["verdict"]
    assert f'<span class="badge g-{verdict}">{verdict}</span>' in html
