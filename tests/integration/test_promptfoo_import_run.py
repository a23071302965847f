"""A promptfoo config, imported with ``promptsuite import``, runs under ``pytest suites/``
with the verdicts promptfoo's rules give (scripted model, real plugin)."""

from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

CONFIG = """
description: capitals
prompts:
  - "What is the capital of {{country}}?"
providers:
  - echo
defaultTest:
  assert:
    - type: not-is-refusal
tests:
  - description: france
    vars: {country: France}
    assert:
      - type: icontains-any
        value: france, paris
      - type: word-count
        value: {min: 3, max: 12}
      - type: assert-set
        threshold: 0.5
        assert:
          - {type: contains, value: capital}
          - {type: starts-with, value: Paris}
  - description: weighted-threshold
    vars: {country: Peru}
    threshold: 0.6
    assert:
      - {type: equals, value: Lima, weight: 2}
      - {type: contains, value: Peru, weight: 1}
  - description: strict-equals
    vars: {country: Chile}
    assert:
      - {type: equals, value: "What is the capital of Chile? "}
"""


def test_an_imported_config_runs_with_promptfoo_verdicts(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", promptfooconfig=textwrap.dedent(CONFIG))
    imported = pytester.run("promptsuite", "import", "promptfooconfig.yaml", "--name", "caps")
    assert imported.ret == 0, imported.stderr.str()
    result = pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", "-rA")
    # The echo model repeats the prompt: france passes (its set needs 1 of 2);
    # weighted-threshold scores (0 * 2 + 1 + 1) / 4 = 0.5 < 0.6 (the default not-is-refusal
    # counts too); equals is exact, and the output has no trailing space.
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*PASSED suites/caps.yaml::france*",
            "*FAILED suites/caps.yaml::weighted-threshold*",
            "*FAILED suites/caps.yaml::strict-equals*",
        ]
    )
