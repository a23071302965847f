"""Cases from data files (CSV, JSON Lines, YAML) and expectations templated from vars."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptsuite.errors import ConfigError, SuiteLoadError
from promptsuite.suite import load_suite

Write = Callable[[str, str], Path]

ROWS_SUITE = """
prompt: {{user: "Classify: {{{{ query }}}}"}}
models: [scripted]
defaults: {{tags: [smoke]}}
cases:
  - id: fixed
    vars: {{query: hi, label: greeting}}
    expect: [{{type: equals, value: "{{{{ label }}}}"}}]
  - file: {file}
    columns: {{id: key, reference: label, tags: tags, vars: {{query: text}}}}
    description: "row of {{{{ label }}}}"
    tags: [rows]
    expect:
      - {{type: regex, value: '^\\W*{{{{ label }}}}\\W*$', metric: label}}
"""


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_suite(path, display="suites/s.yaml")
    exc = info.value
    return [str(e) for e in exc.errors] if isinstance(exc, SuiteLoadError) else [str(exc)]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "rows.csv",
            'key,text,label,tags\nr1,"Hello,\nthere",greeting,"a, b"\nr2,bye,farewell,\n',
        ),
        (
            "rows.jsonl",
            '{"key": "r1", "text": "Hello,\\nthere", "label": "greeting", "tags": ["a", "b"]}\n'
            '\n{"key": "r2", "text": "bye", "label": "farewell", "tags": []}\n',
        ),
        (
            "rows.yaml",
            "- {key: r1, text: \"Hello,\\nthere\", label: greeting, tags: 'a b'}\n"
            "- {key: r2, text: bye, label: farewell, tags: ''}\n",
        ),
    ],
)
def test_every_row_becomes_a_case(write: Write, name: str, text: str) -> None:
    write(f"data/{name}", text)
    suite = load_suite(write("suites/s.yaml", ROWS_SUITE.format(file=f"../data/{name}")))
    fixed, first, second = suite.cases
    assert fixed.expect[0].value == "greeting"  # a plain case's checks see its vars too
    assert (first.id, second.id) == ("r1", "r2")
    assert first.vars == {"query": "Hello,\nthere"}
    assert first.reference == "greeting"
    assert first.tags == ("smoke", "rows", "a", "b")
    assert second.tags == ("smoke", "rows")
    assert first.description == "row of greeting"
    assert second.expect[0].value == r"^\W*farewell\W*$"
    assert second.expect[0].metric == "label"


def test_without_a_mapping_every_column_is_a_var_and_ids_number_the_rows(write: Write) -> None:
    write("suites/qs.csv", "query,label\nhi,greeting\n")
    path = write(
        "suites/s.yaml",
        """
        prompt: {user: "{{ query }}"}
        cases: [{file: qs.csv, expect: [{type: equals, value: "{{ label }}"}]}]
        """,
    )
    [case] = load_suite(path).cases
    assert case.id == "qs-1"
    assert case.vars == {"query": "hi", "label": "greeting"}


def test_a_missing_column_names_the_file_the_column_and_the_suite(write: Write) -> None:
    write("data/rows.csv", "key,text,tags\nr1,hi,\n")
    [error] = _errors(write("suites/s.yaml", ROWS_SUITE.format(file="../data/rows.csv")))
    assert error.startswith("data/rows.csv:1: field 'label': no column 'label'")
    assert "columns.reference in suites/s.yaml:8" in error
    assert "the file's columns are: key, text, tags" in error


def test_a_row_missing_a_key_is_located_at_its_line(write: Write) -> None:
    write(
        "data/rows.jsonl", '{"key": "r1", "text": "a", "label": "x", "tags": []}\n{"key": "r2"}\n'
    )
    errors = _errors(write("suites/s.yaml", ROWS_SUITE.format(file="../data/rows.jsonl")))
    assert any(
        e.endswith(
            "rows.jsonl:2: case 'r2': field 'label': column 'label' (columns.reference) "
            "is missing from this row"
        )
        for e in errors
    ), errors
    assert all(":2: case 'r2'" in e for e in errors)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("rows.csv", "key,text,label,tags\nr1,hi,x\n", "rows.csv:2: row has 3 values; the header"),
        ("rows.csv", "key,,label\n", "rows.csv:1: header column #2 has no name"),
        ("rows.jsonl", '{"key": 1}\n[1]\n', "rows.jsonl:2:1: row is a JSON list"),
        ("rows.jsonl", '{"key": 1}\n{oops\n', "rows.jsonl:2:2: not valid JSON"),
        ("rows.yaml", "key: 1\n", "rows.yaml:1:1: top level is not a list"),
        ("rows.txt", "x\n", "unknown data file kind '.txt'"),
        ("rows.csv", "key,text,label,tags\n", "rows.csv:1: data file has no rows"),
    ],
)
def test_malformed_data_files_give_one_located_line(
    write: Write, name: str, text: str, expected: str
) -> None:
    write(f"data/{name}", text)
    [error] = _errors(write("suites/s.yaml", ROWS_SUITE.format(file=f"../data/{name}")))
    assert expected in error
    assert "(cases of suites/s.yaml:8)" in error or "unknown data file kind" in error


def test_a_missing_data_file_is_located_in_the_suite(write: Write) -> None:
    [error] = _errors(write("suites/s.yaml", ROWS_SUITE.format(file="../data/none.csv")))
    assert error.startswith("suites/s.yaml:8: field 'file': data file '../data/none.csv' not found")


def test_an_undefined_variable_in_a_templated_check_names_row_and_check(write: Write) -> None:
    write("data/rows.csv", "key,text,label,tags\nr1,hi,x,\n")
    suite = ROWS_SUITE.format(file="../data/rows.csv").replace("{{ label }}\\W", "{{ lable }}\\W")
    [error] = _errors(write("suites/s.yaml", suite))
    assert "rows.csv:2: case 'r1': expect[0].value: 'lable' is undefined" in error


def test_an_invalid_id_and_duplicate_ids_from_rows_are_located(write: Write) -> None:
    write("data/rows.csv", "key,text,label,tags\nfixed,hi,x,\nbad id,hi,x,\n")
    errors = _errors(write("suites/s.yaml", ROWS_SUITE.format(file="../data/rows.csv")))
    assert any(
        "rows.csv:2: case 'fixed': field 'id': duplicate case id 'fixed' (first at "
        "suites/s.yaml:5)" in e
        for e in errors
    ), errors
    assert any(
        "rows.csv:3: case 'bad id': field 'id': String should match pattern" in e for e in errors
    ), errors


def test_plain_values_are_never_rendered(write: Write) -> None:
    path = write(
        "suites/s.yaml",
        """
        prompt: {user: hi}
        cases:
          - id: a
            expect: [{type: contains, value: "keep {braces} and a trailing newline\\n"}]
        """,
    )
    [case] = load_suite(path).cases
    assert case.expect[0].value == "keep {braces} and a trailing newline\n"


def test_a_bad_check_of_a_data_file_entry_is_reported_once(write: Write) -> None:
    write("data/rows.csv", "key,text,label,tags\nr1,hi,x,\nr2,ho,y,\n")
    suite = ROWS_SUITE.format(file="../data/rows.csv").replace(
        "metric: label", "metric: label, min: 1"
    )
    [error] = _errors(write("suites/s.yaml", suite))
    assert error.startswith(
        "data/rows.csv:2: case 'r1': field 'expect[0].min': 'min' has no meaning"
    )


def test_a_data_file_may_start_with_a_byte_order_mark_and_is_located_when_not_utf8(
    tmp_path: Path,
) -> None:
    from promptsuite.suite._yaml import read_capped

    bom = tmp_path / "rows.csv"
    bom.write_bytes("\ufeffkey,text\na,hi\n".encode())
    assert read_capped(bom, "rows.csv", "data file", encoding="utf-8-sig").startswith("key")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("key,text\na,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as raised:
        read_capped(latin, "latin.csv", "data file")
    assert str(raised.value).startswith("latin.csv:2:6: not valid UTF-8 (byte 14)")
    with pytest.raises(ConfigError, match="cannot read data file"):
        read_capped(tmp_path / "missing.csv", "missing.csv", "data file")
