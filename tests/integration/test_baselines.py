"""Baselines and the suite gate, through real pytest sessions."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

SUITE = """
prompt: {{user: '{{{{ q }}}}'}}
models: [{{provider: scripted, label: bot, responses: {{a: "{a}", b: "beta", c: "gamma"}}}}]
cases:
  - {{id: ca, vars: {{q: a}}, expect: [{{type: contains, value: alpha}}]}}
  - {{id: cb, vars: {{q: b}}, expect: [{{type: contains, value: alpha}}]}}
  - {{id: cc, vars: {{q: c}}, expect: [{{type: contains, value: gamma}}]}}
{extra}
"""


def write_suite(pytester: pytest.Pytester, a: str = "alpha", extra: str = "") -> None:
    text = textwrap.dedent(SUITE.format(a=a, extra=extra))
    pytester.makefile(".yaml", **{"suites/s": text})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "suites", "-p", "no:cacheprovider", "--promptsuite-cache", "off", "-rA", *args
    )


def baseline(pytester: pytest.Pytester) -> dict[str, object]:
    data = json.loads((pytester.path / "suites" / "__baselines__" / "s.json").read_text())
    assert isinstance(data, dict)
    return data


def test_without_a_baseline_failures_fail_and_the_summary_says_nothing_is_gated(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester)
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["no baseline for suites/s.yaml: nothing is gated; record one with *update-baseline"]
    )


def test_a_recorded_baseline_silences_the_missing_baseline_warning(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester)
    run(pytester, "--promptsuite-update-baseline").assert_outcomes(passed=2, xfailed=1)
    result = run(pytester)
    result.assert_outcomes(passed=3, xfailed=1)
    assert "no baseline for" not in result.stdout.str()


def test_missing_baseline_can_be_made_to_fail(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    result = run(pytester, "--promptsuite-baseline-missing", "fail")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*suites/s.yaml has no baseline; record one with*"])


def test_record_then_known_failures_are_xfail_and_the_gate_passes(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester)
    result = run(pytester, "--promptsuite-update-baseline")
    result.assert_outcomes(passed=2, xfailed=1)
    result.stdout.fnmatch_lines(["baseline written: suites/__baselines__/s.json"])
    data = baseline(pytester)
    assert data["version"] == 1
    entries = data["entries"]
    assert isinstance(entries, dict)
    assert sorted(entries) == ["ca[bot|default]", "cb[bot|default]", "cc[bot|default]"]
    assert entries["cb[bot|default]"]["passed"] is False
    assert entries["ca[bot|default]"]["repeats"][0]["output_digest"]

    result = run(pytester, "--junitxml=out.xml")
    result.assert_outcomes(passed=3, xfailed=1)
    result.stdout.fnmatch_lines(
        ["XFAIL suites/s.yaml::cb[[]bot[]] - known failure recorded in the baseline*"]
    )
    result.stdout.fnmatch_lines(["against baselines: 1 known-failure, 2 pass"])
    result.stdout.fnmatch_lines(["s*bot*default*pass*3*+0.000*"])
    xml = (pytester.path / "out.xml").read_text()
    assert '<property name="promptsuite_gate" value="pass"' in xml
    assert '<property name="promptsuite_baseline" value="known-failure"' in xml


def test_a_case_that_broke_is_a_regression(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    run(pytester, "--promptsuite-update-baseline")
    write_suite(pytester, a="omega")
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["REGRESSION: passed in the baseline (score 1.00), fails now*"])


def test_an_improved_case_passes_with_a_hint(pytester: pytest.Pytester) -> None:
    write_suite(pytester, a="omega")
    run(pytester, "--promptsuite-update-baseline")
    write_suite(pytester)
    result = run(pytester)
    result.assert_outcomes(passed=3, xfailed=1)
    result.stdout.fnmatch_lines(["improved cases pass now; record them with*"])


def test_a_broad_drop_fails_the_gate(pytester: pytest.Pytester) -> None:
    cases = "\n".join(
        f"  - {{id: d{i}, vars: {{q: 'a {i}'}}, expect: [{{type: contains, value: alpha}}]}}"
        for i in range(30)
    )
    write_suite(pytester, extra=cases)
    run(pytester, "--promptsuite-update-baseline")
    write_suite(pytester, a="omega", extra=cases)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=32, xfailed=1)
    result.stdout.fnmatch_lines(
        ["*__gate__[[]bot[]]*", "suite gate: fail: regression, mean score change*"]
    )


def test_update_prunes_cases_that_left_the_suite(pytester: pytest.Pytester) -> None:
    write_suite(pytester, extra="  - {id: gone, vars: {q: c}}")
    run(pytester, "--promptsuite-update-baseline")
    assert "gone[bot|default]" in baseline(pytester)["entries"]  # type: ignore[operator]
    write_suite(pytester)
    run(pytester, "--promptsuite-update-baseline")
    assert "gone[bot|default]" not in baseline(pytester)["entries"]  # type: ignore[operator]


def test_an_unreadable_baseline_is_a_clear_error(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    pytester.makefile(".json", **{"suites/__baselines__/s": "{not json"})
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unreadable baseline*--promptsuite-update-baseline*"])


#: A conftest that changes what collection read, once it has read it: finishing the run must
#: use what was collected, not the files as they are by the end.
AFTER_COLLECTION = """
from pathlib import Path


def pytest_collection_finish(session):
    suites = Path(str(session.config.rootpath)) / "suites"
{action}
"""
ONLY_OTHER = """prompt: {user: "{{ q }}"}
models: [{provider: scripted, label: bot}]
cases: [{id: other, vars: {q: x}}]
"""


@pytest.mark.parametrize(
    "action",
    [
        '    (suites / "s.yaml").unlink()',
        f"    (suites / 's.yaml').write_text({ONLY_OTHER!r})",
    ],
    ids=["suite-deleted", "suite-rewritten"],
)
def test_updating_a_baseline_uses_the_suite_as_collected(
    pytester: pytest.Pytester, action: str
) -> None:
    write_suite(pytester)
    run(pytester, "--promptsuite-update-baseline")
    pytester.makeconftest(AFTER_COLLECTION.format(action=action))
    result = run(pytester, "--promptsuite-update-baseline", "-k", "ca")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["baseline written: suites/__baselines__/s.json"])
    # cb and cc did not run but were in the suite as collected: their entries stay.
    entries = baseline(pytester)["entries"]
    assert isinstance(entries, dict)
    assert sorted(entries) == ["ca[bot|default]", "cb[bot|default]", "cc[bot|default]"]


def test_the_report_and_the_step_summary_use_the_baseline_as_collected(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester)
    run(pytester, "--promptsuite-update-baseline")
    write_suite(pytester, a="omega")
    pytester.makeconftest(
        AFTER_COLLECTION.format(action='    (suites / "__baselines__" / "s.json").unlink()')
    )
    step_summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1, xfailed=1)
    assert not (pytester.path / "suites" / "__baselines__" / "s.json").exists()
    assert "no baseline for" not in result.stdout.str()
    summary = step_summary.read_text()
    assert "suites/s.yaml::ca[bot]</code>: score 1.00 → 0.00" in summary
    assert "**before** (baseline):\n\n```text\nalpha\n```" in summary
    html = (pytester.path / "reports" / "latest.html").read_text()
    island = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert island is not None
    cells = [c for row in json.loads(island[1])["rows"] for c in row["x"].values()]
    regressed = next(c for c in cells if c["id"] == "suites/s.yaml::ca[bot]")
    assert regressed["b"] == "regression" and regressed["bs"]["p"] is True


def test_baselines_work_under_xdist(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    run(pytester, "--promptsuite-update-baseline", "-n", "2").assert_outcomes(passed=2, xfailed=1)
    run(pytester, "-n", "2").assert_outcomes(passed=3, xfailed=1)


CONVERSATION = """
prompt: {{system: "Be brief."}}
models: [{{provider: scripted, label: bot, responses: {{hello: "hi there", bye: "{bye}"}}}}]
cases:
  - id: chat
    turns:
      - user: "hello"
        expect: [{{type: contains, value: hi}}]
      - user: "bye"
        expect: [{{type: contains, value: goodbye}}]
  - id: known-bad
    turns:
      - user: "hello"
        expect: [{{type: contains, value: nope}}]
"""


def test_a_conversation_is_baselined_and_gated_like_a_single_reply(
    pytester: pytest.Pytester,
) -> None:
    def write(bye: str) -> None:
        text = textwrap.dedent(CONVERSATION.format(bye=bye))
        pytester.makefile(".yaml", **{"suites/s": text})

    write("goodbye!")
    run(pytester, "--promptsuite-update-baseline").assert_outcomes(passed=1, xfailed=1)
    entries = baseline(pytester)["entries"]
    assert isinstance(entries, dict)
    assert entries["chat[bot|default]"]["passed"] is True
    assert entries["known-bad[bot|default]"]["passed"] is False
    run(pytester).assert_outcomes(passed=2, xfailed=1)  # the gate item passes too
    write("see you")  # the second turn's reply no longer passes
    result = run(pytester)
    # One flip in two cases: the gate is inconclusive, which passes by default.
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "REGRESSION: passed in the baseline (score 1.00), fails now*",
            "transcript, up to turn 2, the first that failed:",
            "  [[]user[]] hello",
            "  [[]assistant[]] hi there",
            "  [[]user[]] bye",
            "  [[]assistant[]] see you",
            "  - turn 2: contains: expected output to contain 'goodbye'; got 'see you'",
            "s *bot *default *inconclusive *2 *-0.250*1/0*",
        ]
    )
