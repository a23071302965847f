"""``--promptsuite-model`` takes what a suite's models list takes, and a bad value stops the
run once, at start-up, saying what is expected."""

from __future__ import annotations

import textwrap

import pytest

SUITE = """
prompt: {user: "{{ q }}"}
models: [local]
cases:
  - {id: one, vars: {q: a}, expect: [{type: contains, value: ok}]}
  - {id: two, vars: {q: b}, expect: [{type: contains, value: ok}]}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"suites/s": textwrap.dedent(SUITE)})
    return pytester


def test_a_yaml_mapping_with_a_label_runs_every_suite_on_that_model(
    project: pytest.Pytester,
) -> None:
    model = '{provider: scripted, reply: "ok then", label: fixed}'
    result = project.runpytest_subprocess(
        "suites", "-p", "no:cacheprovider", "-v", "--promptsuite-model", model
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*suites/s.yaml::one[[]fixed[]] PASSED*"])


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "{provider: nope, model: x}",
            "*promptsuite: option model '{provider: nope, model: x}': unknown model provider "
            "'nope'; expected one of: local, openai, replay, scripted",
        ),
        (
            "{provider: openai, base_url: http://127.0.0.1:9/v1",
            "*promptsuite: option model '{provider: openai, base_url: http://127.0.0.1:9/v1' is "
            "not valid YAML (*); expected what a suite's models list takes: *",
        ),
        (
            "{provider: openai, max_retries: many}",
            "*option model '{provider: openai, max_retries: many}': openai option 'max_retries'*",
        ),
    ],
)
def test_a_bad_model_is_one_usage_error_before_anything_runs(
    project: pytest.Pytester, model: str, message: str
) -> None:
    result = project.runpytest_subprocess(
        "suites", "-p", "no:cacheprovider", "--promptsuite-model", model
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert sum("promptsuite:" in line for line in result.stderr.lines) == 1
    assert "Traceback" not in result.stderr.str() and "collected" not in result.stdout.str()
