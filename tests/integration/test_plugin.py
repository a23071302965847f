"""The pytest plugin, driven through real pytest sessions (pytester)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

PROMPT = """
name: support
system: "You are a support assistant."
user: "{{ question }}"
"""

SUITE = """
name: support
prompt: ../prompts/support.yaml
models:
  - provider: scripted
    label: bot
    responses:
      refund: "Sorry about that! I will open a refund request for you."
      human: "I am a human agent."
      broken: "boom"
    fail:
      outage: "backend down"
cases:
  - id: refund-request
    tags: [refund]
    vars: {question: "I want a refund"}
    expect:
      - {type: icontains, value: sorry}
      - {type: contains, value: refund}
  - id: not-human
    tags: [honesty]
    vars: {question: "Are you human?"}
    expect:
      - {type: not-icontains, value: "I am a human"}
  - id: outage
    vars: {question: "outage now"}
    expect:
      - {type: contains, value: x}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"prompts/support": textwrap.dedent(PROMPT)})
    pytester.makefile(".yaml", **{"suites/support": textwrap.dedent(SUITE)})
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", *args)


def test_items_have_stable_readable_ids(project: pytest.Pytester) -> None:
    result = run(project, "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "suites/support.yaml::refund-request[[]bot[]]",
            "suites/support.yaml::not-human[[]bot[]]",
            "suites/support.yaml::outage[[]bot[]]",
        ]
    )


def test_outcomes_failure_output_and_summary(project: pytest.Pytester) -> None:
    result = run(project, "-rA")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*not-human*bot*",
            "*[[]user[]] Are you human?*",
            "output:",
            "  I am a human agent.",
            "failed checks:",
            "  - not-icontains: *",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of outage[[]bot[]]*", "ModelError: scripted failure: backend down"]
    )
    result.stdout.fnmatch_lines(["FAILED *not-human[[]bot[]] - 1 of 1 checks failed*"])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.fnmatch_lines(
        [
            "*promptsuite*",
            "suite*model*prompt*cases*passed*pass rate*mean score*",
            "support*bot*default*3*1*33%*",
            "model calls: 3 (2 answered, 1 failed), cache hits: 0; "
            "results: reports/latest.json; report: reports/latest.html",
        ]
    )
    data = json.loads((project.path / "reports" / "latest.json").read_text())
    assert data["version"] == 1
    cases = {c["case_id"]: c for c in data["cases"]}
    assert set(cases) == {"refund-request", "not-human", "outage"}
    assert cases["refund-request"]["passed"] is True
    assert cases["not-human"]["repeats"][0]["checks"][0]["passed"] is False
    assert cases["outage"]["error_kind"] == "ModelError"
    assert len(list((project.path / "reports" / "runs").glob("results-*.json"))) == 1


def test_second_run_is_served_from_the_cache(project: pytest.Pytester) -> None:
    run(project)
    result = run(project)
    result.assert_outcomes(passed=1, failed=1, errors=1)
    # The errored case is sent again (errors are never cached), and counted.
    result.stdout.fnmatch_lines(["model calls: 1 (0 answered, 1 failed), cache hits: 2*"])


def test_replay_mode_fails_clearly_on_a_miss_then_replays(project: pytest.Pytester) -> None:
    result = run(project, "--promptsuite-cache", "replay")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*CacheMiss: no recorded response for bot*"])
    run(project)
    result = run(project, "--promptsuite-cache", "replay")
    result.assert_outcomes(passed=1, failed=1, errors=1)


def test_selection_by_id_and_tag(project: pytest.Pytester) -> None:
    run(project, "-k", "refund").assert_outcomes(passed=1)
    run(project, "-m", "honesty").assert_outcomes(failed=1)
    run(project, "-m", "not honesty and not refund").assert_outcomes(errors=1)


def test_junit_carries_scores(project: pytest.Pytester) -> None:
    run(project, "--junitxml=out.xml")
    xml = (project.path / "out.xml").read_text()
    assert '<property name="promptsuite_score" value="1.0000"' in xml
    assert '<property name="promptsuite_passed" value="false"' in xml


def test_model_override_and_variants(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        **{
            "prompts/p": "variants:\n  short: {user: 'A {{ q }}'}\n  long: {user: 'B {{ q }}'}\n",
            "suites/v": textwrap.dedent(
                """
                prompt: {file: ../prompts/p.yaml, variants: [short, long]}
                models: [scripted]
                cases:
                  - id: c
                    vars: {q: x}
                    expect: [{type: starts-with, value: A}]
                """
            ),
        },
    )
    result = run(pytester, "-v")
    result.stdout.fnmatch_lines(["*v.yaml::c[[]scripted-short[]] PASSED*"])
    result.stdout.fnmatch_lines(["*v.yaml::c[[]scripted-long[]] FAILED*"])
    result = run(pytester, "-v", "--promptsuite-model", "scripted:A fixed")
    result.stdout.fnmatch_lines(["*c[[]scripted:A fixed-long[]] PASSED*"])


def test_a_broken_suite_does_not_stop_the_others(project: pytest.Pytester) -> None:
    project.makefile(".yaml", **{"suites/broken": "prompt: {user: hi}\ncases: [{id: 'a b'}]\n"})
    result = run(project)
    result.assert_outcomes(passed=1, failed=1, errors=2)
    result.stdout.fnmatch_lines(["*suites/broken.yaml:2:*case*field 'cases[[]0[]].id'*pattern*"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_template_error_names_the_variable(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        **{"suites/t": "prompt: {user: '{{ nmae }}'}\nmodels: [scripted]\ncases: [{id: a}]\n"},
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*TemplateError: suites/t.yaml:3: case 'a': user message #1: 'nmae' is undefined*"]
    )


def test_xdist_gives_the_same_results(project: pytest.Pytester) -> None:
    result = run(project, "-n", "2", "--promptsuite-cache", "off")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(["support*bot*default*3*1*33%*"])
    data = json.loads((project.path / "reports" / "latest.json").read_text())
    assert sorted(c["case_id"] for c in data["cases"]) == ["not-human", "outage", "refund-request"]


def test_options_from_pyproject_table(project: pytest.Pytester) -> None:
    project.makefile(".toml", pyproject='[tool.promptsuite]\nresults = "out/here"\ncache = "off"\n')
    run(project)
    assert (project.path / "out" / "here" / "latest.json").is_file()
    assert not (project.path / ".promptsuite").exists()


def test_unknown_pyproject_key_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makefile(".toml", pyproject="[tool.promptsuite]\nconcurency = 3\n")
    result = run(project)
    result.stderr.fnmatch_lines(["*promptsuite*unknown key(s) concurency*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_results_are_identical_whatever_the_concurrency(project: pytest.Pytester) -> None:
    outputs = []
    for concurrency in ("1", "16"):
        run(project, "--promptsuite-cache", "off", "--promptsuite-concurrency", concurrency)
        data = json.loads((project.path / "reports" / "latest.json").read_text())
        for case in data["cases"]:
            for repeat in case["repeats"]:
                repeat["generation"].pop("latency_s", None)
        outputs.append(data["cases"])
    assert outputs[0] == outputs[1]


def test_results_dir_option(project: pytest.Pytester, tmp_path: Path) -> None:
    run(project, "--promptsuite-results", str(tmp_path / "r"))
    assert (tmp_path / "r" / "latest.json").is_file()


def test_judge_uses_its_own_grader_and_unparseable_replies_are_errors(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".yaml",
        **{
            "suites/j": textwrap.dedent(
                """
                prompt: {user: '{{ q }}'}
                models: [{provider: scripted, label: bot, reply: "Paris is the capital."}]
                cases:
                  - id: graded
                    vars: {q: capital of France?}
                    expect:
                      - type: judge
                        rubric: names Paris
                        grader: {provider: scripted, label: grader,
                                 reply: '{"reason": "mentions Paris", "score": 0.9, "pass": true}'}
                  - id: garbled
                    vars: {q: capital of France?}
                    expect:
                      - type: judge
                        rubric: names Paris
                        grader: {provider: scripted, label: grader2, reply: "hmm, maybe"}
                """
            )
        },
    )
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["CheckError: *hmm, maybe*"])


def test_refresh_mode_calls_again_and_overwrites(project: pytest.Pytester) -> None:
    run(project)
    result = run(project, "--promptsuite-cache", "refresh")
    result.stdout.fnmatch_lines(["model calls: 3 (2 answered, 1 failed), cache hits: 0*"])
    result = run(project)
    result.stdout.fnmatch_lines(["model calls: 1 (0 answered, 1 failed), cache hits: 2*"])


def test_tags_work_with_strict_markers(project: pytest.Pytester) -> None:
    run(project, "--strict-markers", "-m", "refund").assert_outcomes(passed=1)
