"""The fine-tune's rows: the optimizer's split, references only, the test split never seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptsuite.errors import ConfigError
from promptsuite.finetune import chat_rows, subsample
from promptsuite.optimize.search import split_cases
from promptsuite.suite import Suite, load_suite

PROMPT = """\
name: route
system: "Reply with the queue code."
user: "Message: {{ message }}"
"""


def write_suite(tmp_path: Path, n: int = 20, labelled: bool = True) -> Suite:
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    expect = (
        (lambda i: [{"type": "equals", "value": f"Q-{i % 4}"}])
        if labelled
        else (lambda i: [{"type": "contains", "value": "Q"}])
    )
    cases = [
        {
            "id": f"m{i:02d}",
            "tags": [f"t{i % 4}"],
            "vars": {"message": f"m {i}"},
            "expect": expect(i),
        }
        for i in range(n)
    ]
    path = tmp_path / "suite.yaml"
    path.write_text(
        json.dumps({"name": "route", "prompt": "prompt.yaml", "cases": cases}), encoding="utf-8"
    )
    return load_suite(path)


def test_rows_follow_the_optimizers_split_and_hold_out_test(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    rows = chat_rows(suite, seed=3)
    split = split_cases(suite.cases, seed=3)
    assert rows.split == split
    assert rows.train_ids == [c for c, s in split.items() if s == "train"]
    assert rows.val_ids == [c for c, s in split.items() if s == "val"]
    assert rows.test_ids == [c for c, s in split.items() if s == "test"]
    assert not set(rows.test_ids) & set(rows.train_ids + rows.val_ids)
    first = rows.train[0]
    case = next(c for c in suite.cases if c.id == rows.train_ids[0])
    assert first == [
        {"role": "system", "content": "Reply with the queue code."},
        {"role": "user", "content": f"Message: {case.vars['message']}"},
        {"role": "assistant", "content": case.expect[0].value},
    ]


def test_a_recorded_split_overrides_the_seed(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=6)
    recorded = {"m00": "test", "m01": "val", **{f"m0{i}": "train" for i in range(2, 6)}}
    rows = chat_rows(suite, seed=99, split=recorded)
    assert (rows.test_ids, rows.val_ids) == (["m00"], ["m01"])
    assert rows.train_ids == ["m02", "m03", "m04", "m05"]


def test_no_reference_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, labelled=False)
    with pytest.raises(ConfigError, match=r"suite\.yaml: no train case has a reference answer"):
        chat_rows(suite)


def test_subsamples_are_seeded_and_nested(tmp_path: Path) -> None:
    rows = chat_rows(write_suite(tmp_path, n=40))
    quarter, half = subsample(rows, 0.25, 0), subsample(rows, 0.5, 0)
    assert len(quarter.train) == round(len(rows.train) * 0.25)
    assert set(quarter.train_ids) < set(half.train_ids) < set(rows.train_ids)
    assert subsample(rows, 0.25, 0).train_ids == quarter.train_ids
    assert quarter.val == rows.val and quarter.test_ids == rows.test_ids
    with pytest.raises(ValueError):
        subsample(rows, 0, 0)
