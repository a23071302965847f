"""Runs that span machines: shards in separate processes, joined by ``promptsuite merge``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from promptsuite.cli import main
from promptsuite.results import RunResults, load
from tests.example_suites import ROOT, SUITES, recorded_verdicts, run_example_suites

CASSETTE = SUITES / "__cassettes__" / "responses.sqlite"


def junit_outcomes(path: Path) -> dict[str, str]:
    """``{test id: passed | failed | xfailed | error}`` from a JUnit XML file."""
    outcomes = {}
    for case in ET.parse(path).iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = (
            "error"
            if "error" in kinds
            else "failed"
            if "failure" in kinds
            else "xfailed"
            if "skipped" in kinds
            else "passed"
        )
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return outcomes


def comparable(run: RunResults) -> list[dict[str, Any]]:
    """The cases of a run without wall-clock figures, in test-id order."""
    cases = run.to_dict()["cases"]
    for case in cases:
        for repeat in case["repeats"]:
            repeat["generation"].pop("latency_s", None)
    return cases


def test_three_shards_of_the_example_suites_merge_into_the_unsharded_run(tmp_path: Path) -> None:
    cassette = tmp_path / "responses.sqlite"
    cassette.write_bytes(CASSETTE.read_bytes())
    common = ("--promptsuite-cache", "replay", "--promptsuite-cache-path", str(cassette))
    common += ("--promptsuite-baseline-missing", "fail")
    whole = run_example_suites(
        *common,
        "--promptsuite-results",
        str(tmp_path / "whole"),
        "--junitxml",
        str(tmp_path / "whole.xml"),
    )
    assert whole.returncode == 0, whole.stdout[-3000:]
    shards = tmp_path / "shards"
    for index in (1, 2, 3):
        part = run_example_suites(
            *common,
            "--promptsuite-shard",
            f"{index}/3",
            "--promptsuite-results",
            str(shards),
            "--junitxml",
            str(tmp_path / f"shard-{index}.xml"),
        )
        assert part.returncode == 0, part.stdout[-3000:]
        assert f"shard {index}/3: " in part.stdout and " deselected" in part.stdout
    merged_path = tmp_path / "merged" / "latest.json"
    merged = subprocess.run(
        [
            sys.executable,
            "-m",
            "promptsuite.cli",
            "merge",
            *sorted(map(str, shards.glob("shard-*.json"))),
            "-o",
            str(merged_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert (tmp_path / "merged" / "latest.html").is_file()

    # The verdicts: every case item in exactly one shard, with the outcome it had unsharded.
    unsharded = junit_outcomes(tmp_path / "whole.xml")
    parts = [junit_outcomes(tmp_path / f"shard-{i}.xml") for i in (1, 2, 3)]
    assert all(parts) and sum(len(p) for p in parts) == len({k for p in parts for k in p})
    cases = {k: v for k, v in unsharded.items() if "__gate__" not in k}
    assert {k: v for p in parts for k, v in p.items()} == cases
    assert set(cases.values()) == {"passed", "xfailed"}
    # The gates: computed once over every case, exactly as the unsharded run's gate items.
    whole_run, merged_run = load(tmp_path / "whole" / "latest.json"), load(merged_path)
    assert merged_run.metadata["gates"] == whole_run.metadata["gates"]
    suites = len(list(SUITES.glob("*.yaml")))
    assert len(merged_run.metadata["gates"]) == suites
    assert [v for k, v in unsharded.items() if "__gate__" in k] == ["passed"] * suites
    # The results, case by case.
    assert comparable(merged_run) == comparable(whole_run)
    verdicts = recorded_verdicts()
    passed = sum(verdicts.values())
    assert f"merged 3 shards: {passed} passed, {len(verdicts) - passed} xfailed" in merged.stdout


SUITE = """
prompt: {{user: "{{{{ q }}}}"}}
models: [{{provider: scripted, label: echo}}]
defaults:
  expect: [{{type: contains, value: "{expected}"}}]
cases:
{cases}
"""


def write_suite(pytester: pytest.Pytester, broken: int = 0) -> None:
    """24 cases on a model that echoes: case n passes when its reply holds 'ok'; the first
    ``broken`` of them no longer say 'ok'."""
    lines = [
        f"  - {{id: case-{n:02}, vars: {{q: '{'no' if n < broken else 'ok'} {n}'}}}}"
        for n in range(24)
    ]
    text = SUITE.format(expected="ok", cases="\n".join(lines))
    pytester.makefile(".yaml", **{"suites/s": textwrap.dedent(text)})


def pytest_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", *args)


def merge(*args: str) -> int:
    return main(["merge", *args])


def shard_files(pytester: pytest.Pytester) -> list[str]:
    return sorted(str(p) for p in (pytester.path / "reports").glob("shard-*.json"))


def test_a_regression_fails_the_merged_gate_as_it_fails_the_unsharded_one(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    write_suite(pytester)
    # The baseline recorded from shards: the merge writes it, from every case.
    for index in (1, 2, 3):
        pytest_run(pytester, "--promptsuite-shard", f"{index}/3", "--promptsuite-update-baseline")
    assert not (pytester.path / "suites" / "__baselines__").exists()
    assert merge(*shard_files(pytester), "-o", "reports/recorded.json") == 0
    baseline = json.loads((pytester.path / "suites" / "__baselines__" / "s.json").read_text())
    assert len(baseline["entries"]) == 24
    for path in shard_files(pytester):
        Path(path).unlink()

    write_suite(pytester, broken=8)
    off = ("--promptsuite-cache", "off")
    whole = pytest_run(pytester, "--junitxml", "whole.xml", "--promptsuite-results", "whole", *off)
    whole.assert_outcomes(passed=16, failed=9)  # 8 regressions and the failing gate
    for index in (1, 2, 3):
        xdist = ("-n", "2") if index == 2 else ()  # one shard spread over workers
        part = pytest_run(
            pytester,
            "--promptsuite-shard",
            f"{index}/3",
            "--junitxml",
            f"s{index}.xml",
            *off,
            *xdist,
        )
        assert part.ret == (1 if "failed" in part.stdout.str() else 0)
    capsys.readouterr()
    assert merge(*shard_files(pytester), "-o", "reports/latest.json") == 1
    out = capsys.readouterr().out
    assert "merged 3 shards: 8 failed, 16 passed" in out
    assert "FAILED suites/s.yaml [echo, default]: suite gate: fail: regression" in out

    unsharded = junit_outcomes(pytester.path / "whole.xml")
    parts = {
        k: v for i in (1, 2, 3) for k, v in junit_outcomes(pytester.path / f"s{i}.xml").items()
    }
    assert parts == {k: v for k, v in unsharded.items() if "__gate__" not in k}
    whole_run = load(pytester.path / "whole" / "latest.json")
    merged_run = load(pytester.path / "reports" / "latest.json")
    assert merged_run.metadata["gates"] == whole_run.metadata["gates"]
    assert merged_run.metadata["gates"][0]["verdict"] == "fail"
    assert comparable(merged_run) == comparable(whole_run)
    assert [m["shard"] for m in merged_run.metadata["merged_from"]] == ["1/3", "2/3", "3/3"]


def test_merge_refuses_shards_that_are_not_one_run(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    write_suite(pytester)
    for index in (1, 2, 3):
        pytest_run(pytester, "--promptsuite-shard", f"{index}/3")
    one, two, three = shard_files(pytester)

    def refused(*args: str) -> str:
        capsys.readouterr()
        assert merge(*args, "-o", "reports/merged.json") == 2
        return capsys.readouterr().err.strip()

    assert refused(one, two) == "promptsuite: merge: shard 3/3 missing; give every shard's file"
    assert refused(one, one, two, three).endswith("are both shard 1/3")
    (pytester.path / "garbage.json").write_text("{not json")
    assert "garbage.json: cannot read a results file" in refused(one, two, "garbage.json")
    pytest_run(pytester)
    assert "not a shard's results file" in refused(one, two, three, "reports/latest.json")
    # A shard run with other settings, or after the suite changed, is not of this run.
    pytest_run(pytester, "--promptsuite-shard", "3/3", "--promptsuite-gate-margin", "0.2")
    assert "ran with gate_margin 0.2," in refused(one, two, three)
    write_suite(pytester, broken=1)
    pytest_run(pytester, "--promptsuite-shard", "3/3")
    assert "ran suites/s.yaml differently from" in refused(one, two, three)
    # A shard that stopped early.
    write_suite(pytester)
    pytest_run(pytester, "--promptsuite-shard", "3/3")
    data = json.loads(Path(three).read_text())
    data["cases"].pop()
    Path(three).write_text(json.dumps(data))
    assert "cases: the shard stopped early; run it again" in refused(one, two, three)
    assert not (pytester.path / "reports" / "merged.json").exists()


def test_each_shard_has_its_own_cache_and_the_caches_merge_into_one_cassette(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    write_suite(pytester)
    caches = pytester.path / ".promptsuite"
    for index in (1, 2, 3):
        pytest_run(pytester, "--promptsuite-shard", f"{index}/3")
    own = sorted(p.name for p in caches.glob("*.sqlite"))
    assert own == [f"cache.shard-{i}-of-3.sqlite" for i in (1, 2, 3)]
    files = [str(caches / name) for name in own]
    capsys.readouterr()
    assert merge("--cache", *files) == 2
    assert "--cache needs --cache-out" in capsys.readouterr().err
    assert merge("--cache", *files, "--cache-out", "cassette.sqlite") == 0
    assert "merged 3 caches into cassette.sqlite (24 responses)" in capsys.readouterr().out
    replayed = pytest_run(
        pytester, "--promptsuite-cache", "replay", "--promptsuite-cache-path", "cassette.sqlite"
    )
    replayed.assert_outcomes(passed=24)
    replayed.stdout.fnmatch_lines(["model calls: 0, cache hits: 24*"])
    # A shard's own cache starts from the shared one, so recorded answers still hit.
    for name in own:
        (caches / name).unlink()
    pytest_run(pytester).assert_outcomes(passed=24)  # records .promptsuite/cache.sqlite
    seeded = pytest_run(pytester, "--promptsuite-shard", "1/3")
    seeded.stdout.fnmatch_lines(["model calls: 0, cache hits: *"])


def test_a_shard_with_no_case_still_writes_its_file(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    result = pytest_run(pytester, "-k", "case-00", "--promptsuite-shard", "1/1")
    result.assert_outcomes(passed=1)
    empty = [
        i
        for i in (1, 2)
        if pytest_run(pytester, "-k", "case-00", "--promptsuite-shard", f"{i}/2").ret == 5
    ]
    assert len(empty) == 1  # one of two shards of one case has nothing to run
    data = json.loads((pytester.path / "reports" / f"shard-{empty[0]}-of-2.json").read_text())
    assert data["cases"] == [] and data["metadata"]["shard"]["planned"] == 1


def test_the_plugin_writes_the_verdict_to_the_job_page(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, broken=1)
    summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytest_run(pytester).assert_outcomes(passed=23, failed=1)
    text = summary.read_text()
    assert text.startswith("<!-- promptsuite:summary -->\n## ❌ promptsuite: 1 failing case\n")
    assert "suites/s.yaml::case-00[echo]" in text and "results: `reports/latest.json`" in text
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "missing" / "summary.md"))
    result = pytest_run(pytester)
    result.assert_outcomes(passed=23, failed=1)  # the run's outcome is its own
    result.stdout.fnmatch_lines(["GITHUB_STEP_SUMMARY not written: *"])
