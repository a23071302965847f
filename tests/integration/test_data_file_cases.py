"""Cases loaded from data files, run through real pytest sessions (pytester)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SUITE = """\
prompt: {user: "Which animal says {{ sound }}?"}
models:
  - provider: scripted
    responses: {woof: dog, meow: cat, moo: horse}
cases:
  - file: ../data/animals.csv
    columns: {id: id, vars: {sound: sound}, reference: animal, tags: kind}
    expect: [{type: equals, value: "{{ animal }}"}]
"""

CSV = "id,sound,animal,kind\nwoof,woof,dog,pet\nmeow,meow,cat,pet\nmoo,moo,cow,farm\n"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", *args)


def test_rows_become_items_with_ids_tags_and_templated_checks(pytester: pytest.Pytester) -> None:
    pytester.makefile(".csv", **{"data/animals": CSV})
    pytester.makefile(".yaml", **{"suites/animals": SUITE})
    result = run(pytester, "-m", "pet or farm")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*expected output to equal 'cow'*", "FAILED suites/animals.yaml::moo*"]
    )


def test_a_missing_column_is_one_located_line_and_other_suites_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".csv", **{"data/animals": CSV.replace("animal", "beast")})
    pytester.makefile(".yaml", **{"suites/animals": SUITE})
    pytester.makefile(
        ".yaml", **{"suites/other": "prompt: {user: hi}\nmodels: [scripted]\ncases: [{id: a}]\n"}
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*data/animals.csv:1: field 'animal': no column 'animal' (columns.reference in "
            "suites/animals.yaml:6); the file's columns are: id, sound, beast, kind*"
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
