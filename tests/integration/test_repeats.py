"""Repeats through real pytest sessions: reducers, flaky cases, Wilson intervals."""

from __future__ import annotations

import json
import textwrap

import pytest

NOISE = """
def answer(messages, params):
    # 'steady' always passes; 'wobbly' passes repeats 0 and 2 only; 'broken' never passes.
    question = messages[-1]["content"]
    if question == "wobbly":
        return "yes" if params["repeat"] != 1 else "no"
    return "yes" if question == "steady" else "no"
"""

SUITE = """
prompt: {user: '{{ q }}'}
models: [{provider: scripted, label: bot, script: 'noise:answer'}]
defaults: {repeat: 3, temperature: 0.7}
cases:
  - {id: steady, vars: {q: steady}, expect: [{type: equals, value: 'yes'}]}
  - {id: wobbly, vars: {q: wobbly}, expect: [{type: equals, value: 'yes'}]}
  - {id: broken, vars: {q: broken}, expect: [{type: equals, value: 'yes'}]}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(noise=NOISE)
    pytester.makefile(".yaml", **{"suites/s": textwrap.dedent(SUITE)})
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "suites", "-p", "no:cacheprovider", "--promptsuite-cache", "off", "-rA", *args
    )


def test_flaky_cases_are_flagged_with_their_pass_rate(project: pytest.Pytester) -> None:
    result = run(project, "--junitxml=out.xml")
    result.assert_outcomes(passed=1, failed=2)  # all-pass is the default reducer
    result.stdout.fnmatch_lines(
        [
            "flaky cases (1): repeats disagree",
            "  suites/s.yaml::wobbly[[]bot[]]: flaky: 2/3 repeats passed (pass rate 67%, "
            "95% CI 21%-94%); fails under all-pass",
        ]
    )
    result.stdout.fnmatch_lines(["s *bot *default *3 *1 *33% (6%-79%) *0.33 *1 *0 *"])
    xml = (project.path / "out.xml").read_text()
    assert '<property name="promptsuite_flaky" value="true"' in xml
    assert '<property name="promptsuite_pass_rate" value="0.6667"' in xml
    cases = json.loads((project.path / "reports" / "latest.json").read_text())["cases"]
    wobbly = next(c for c in cases if c["case_id"] == "wobbly")
    assert [r["passed"] for r in wobbly["repeats"]] == [True, False, True]
    assert wobbly["reducer"] == "all-pass" and wobbly["passed"] is False


@pytest.mark.parametrize(("reducer", "passed"), [("mean", 2), ("any-pass", 2), ("all-pass", 1)])
def test_the_reducer_decides_a_flaky_case(
    project: pytest.Pytester, reducer: str, passed: int
) -> None:
    result = run(project, "--promptsuite-reducer", reducer)
    result.assert_outcomes(passed=passed, failed=3 - passed)
    result.stdout.fnmatch_lines([f"*wobbly*flaky: 2/3 repeats passed*under {reducer}"])


def test_a_minimum_pass_rate_per_case(project: pytest.Pytester) -> None:
    suite = textwrap.dedent(SUITE).replace(
        "{id: wobbly, vars", "{id: wobbly, min_pass_rate: 0.6, vars"
    )
    project.makefile(".yaml", **{"suites/s": suite})
    run(project).assert_outcomes(passed=2, failed=1)


def test_flaky_baselines_gate_the_same_under_xdist(project: pytest.Pytester) -> None:
    run(project, "--promptsuite-update-baseline").assert_outcomes(passed=1, xfailed=2)
    serial = run(project)
    parallel = run(project, "-n", "2")
    for result in (serial, parallel):
        result.assert_outcomes(passed=2, xfailed=2)
        result.stdout.fnmatch_lines(["s *bot *default *pass *3 *+0.000*"])
