"""The fine-tuning export: where reference answers come from, the files, every line validated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptsuite.errors import PromptsuiteError
from promptsuite.optimize import OptimizationRun
from promptsuite.optimize._export import (
    export_finetune,
    reference_answers,
    validate_example,
    validate_jsonl,
)
from promptsuite.optimize.analysis import analyze
from promptsuite.suite import Suite, load_suite
from tests.unit.optimize.optimize_runs import make_run

PROMPT = """\
name: task
system: "Answer with the label only."
examples:
  - user: "example question"
    assistant: "example answer"
user: "Question: {{ q }}"
"""

EXPECT: dict[int, list[dict[str, Any]]] = {
    0: [{"type": "equals", "value": "label-0"}],
    1: [{"type": "equals", "value": "label-1"}],
    2: [{"type": "similar", "value": "a reference reply", "threshold": 0.9}],
    3: [{"type": "equals", "value": {"a": 1}}],
    4: [{"type": "regex", "value": "^\\W*card_arrival\\W*$"}],
    5: [
        {"type": "json-schema", "schema": {"type": "object", "required": ["name", "qty"]}},
        {"type": "json-field", "path": "name", "value": "Ann"},
        {"type": "json-field", "path": "qty", "value": 2},
        {"type": "latency", "max": 1},
    ],
    6: [{"type": "contains", "value": "refund"}],
    7: [{"type": "equals", "value": "ok"}, {"type": "judge", "rubric": "polite"}],
    8: [{"type": "equals", "value": "x"}, {"type": "not-contains", "value": "x"}],
    9: [{"type": "contains", "value": "answer"}],
    10: [{"type": "contains", "value": "answer"}],
    11: [{"type": "contains", "value": "answer"}],
}
SPLIT = {9: "val", 10: "val", 11: "test"}


def write_suite(tmp_path: Path) -> Suite:
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    cases = [
        {"id": f"c{i:03d}", "vars": {"q": f"question {i}"}, "expect": EXPECT[i]} for i in range(12)
    ]
    suite = {"name": "task", "prompt": "prompt.yaml", "models": ["scripted"], "cases": cases}
    path = tmp_path / "suite.yaml"
    path.write_text(json.dumps(suite), encoding="utf-8")
    return load_suite(path)


def the_run() -> OptimizationRun:
    # Only cases 9..11 are ever passed (by candidates 1..3); their outputs are "answer i".
    run = make_run(4, 12, lambda k, i, r: k > 0 and i >= 9)
    run.split = {f"c{i:03d}": SPLIT.get(i, "train") for i in range(12)}
    return run


def lines(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_reference_answers_follow_the_documented_rule(tmp_path: Path) -> None:
    references, missing = reference_answers(the_run(), write_suite(tmp_path))
    assert {k: (v.source, v.output) for k, v in references.items()} == {
        "c000": ("derived", "label-0"),
        "c001": ("derived", "label-1"),
        "c002": ("derived", "a reference reply"),
        "c003": ("derived", '{"a": 1}'),
        "c004": ("derived", "card_arrival"),
        "c005": ("derived", '{"name": "Ann", "qty": 2}'),
        "c009": ("verified", "answer 9"),
        "c010": ("verified", "answer 10"),
        "c011": ("verified", "answer 11"),
    }
    assert "do not pin down an answer" in missing["c006"]
    assert "judge" in missing["c007"]
    assert "fails its other checks" in missing["c008"]


def test_without_the_suite_only_verified_outputs_count(tmp_path: Path) -> None:
    references, missing = reference_answers(the_run())
    assert set(references) == {"c009", "c010", "c011"}
    assert len(missing) == 9


def test_export_writes_valid_chat_jsonl_rendered_with_the_users_template(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    run = the_run()
    summary = export_finetune(run, suite, tmp_path / "out")

    assert validate_jsonl(summary.train_path) == []
    assert summary.validation_path is not None
    assert validate_jsonl(summary.validation_path) == []
    train = lines(summary.train_path)
    validation = lines(summary.validation_path)
    for example in train + validation:
        assert validate_example(example) == []
        system, shot_user, shot_reply, user, answer = example["messages"]
        assert system == {"role": "system", "content": "Answer with the label only."}
        assert shot_user == {"role": "user", "content": "example question"}
        assert shot_reply == {"role": "assistant", "content": "example answer", "weight": 0}
        assert user["role"] == "user" and user["content"].startswith("Question: question ")
        assert answer["role"] == "assistant" and "weight" not in answer

    answers = {e["messages"][3]["content"]: e["messages"][4]["content"] for e in train}
    assert answers == {
        "Question: question 0": "label-0",
        "Question: question 1": "label-1",
        "Question: question 2": "a reference reply",
        "Question: question 3": '{"a": 1}',
        "Question: question 4": "card_arrival",
        "Question: question 5": '{"name": "Ann", "qty": 2}',
    }
    assert sorted(e["messages"][4]["content"] for e in validation) == ["answer 10", "answer 9"]

    assert (summary.n_train, summary.n_validation) == (6, 2)
    assert (summary.verified, summary.derived) == (2, 6)
    assert summary.held_out == 1
    assert summary.lines_validated == 8
    assert not summary.meets_openai_minimum
    assert summary.collect_more == 50 - 8
    assert set(summary.needs_reference) == {"c006", "c007", "c008"}
    assert summary.variant == "default"


def test_the_focus_cases_come_first(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)

    def outcome(k: int, i: int, r: int) -> bool:
        return (i in (1, 2, 9) and k == 3) or (i == 9 and k > 0) or (i == 10 and k == 1)

    run = make_run(4, 12, outcome)
    run.split = {f"c{i:03d}": "val" if i in (1, 2, 9, 10) else "train" for i in range(12)}
    analysis = analyze(run, suite=suite, window=2)
    assert analysis.best_index == 3
    status = {c.case_id: c.status for c in analysis.cases}
    assert status["c010"] == "solved-elsewhere"  # only candidate 1 solved it
    assert status["c006"] == "resistant"

    summary = export_finetune(run, suite, tmp_path / "out", analysis=analysis)
    # The prompt-resistant cases with a derived answer, and the one the best prompt lost.
    assert set(summary.focus_cases) == {"c000", "c003", "c004", "c005", "c010"}
    assert set(summary.focus_without_reference) == {"c006", "c007", "c008", "c011"}
    assert summary.validation_path is not None
    validation = lines(summary.validation_path)
    assert validation[0]["messages"][-1]["content"] == "answer 10"
    # The suite's own (derived) references come before the run's verified outputs.
    assert sorted(e["messages"][-1]["content"] for e in validation[1:]) == [
        "a reference reply",
        "answer 9",
        "label-1",
    ]


def test_an_unknown_variant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PromptsuiteError, match="variant 'nope' is not in"):
        export_finetune(the_run(), write_suite(tmp_path), tmp_path / "out", variant="nope")


@pytest.mark.parametrize(
    ("example", "problem"),
    [
        ([], "must be a JSON object"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "last message must be an assistant"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "role must be one of"),
        ({"messages": [{"role": "assistant", "content": " "}]}, "non-empty string"),
        ({"messages": [{"role": "assistant", "content": 3}]}, "non-empty string"),
        (
            {
                "messages": [
                    {"role": "user", "content": "a", "weight": 1},
                    {"role": "assistant", "content": "b"},
                ]
            },
            "weight must be 0 or 1, on assistant messages only",
        ),
        ({"messages": [{"role": "assistant", "content": "b", "weight": 0}]}, "trained on"),
        ({"messages": [{"role": "assistant", "content": "b", "extra": 1}]}, "unknown key 'extra'"),
        ({"messages": [{"role": "assistant", "content": "b"}], "prompt": "x"}, "unknown key"),
    ],
)
def test_validation_names_each_problem(example: Any, problem: str) -> None:
    assert any(problem in p for p in validate_example(example))


def test_validate_jsonl_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    )
    path.write_text(f"{good}\nnot json\n{good}\n{{}}\n", encoding="utf-8")
    problems = validate_jsonl(path)
    assert problems[0].startswith(f"{path}:2: not JSON")
    assert problems[1] == f"{path}:4: 'messages' must be a non-empty list"
    assert len(problems) == 2


TOOL_PROMPT = """\
name: support
system: "Look orders up before you answer."
tools:
  - type: function
    function:
      name: lookup_order
      parameters:
        type: object
        properties: {order_id: {type: string}}
        required: [order_id]
user: "{{ q }}"
"""


def conversation_case(i: int) -> dict[str, Any]:
    """c000: a tool round trip then a follow-up; c001: a turn without a reference;
    c002: a turn that expects a call the case has no result for; the rest: plain turns."""
    if i == 0:
        return {
            "id": "c000",
            "vars": {"q": "Hi", "order": "A-1"},
            "tool_results": {"lookup_order": {"status": "shipped"}},
            "turns": [
                {
                    "user": "Where is order {{ order }}?",
                    "reference": "Order {{ order }} has shipped.",
                    "expect": [
                        {"type": "tool-called", "value": "lookup_order"},
                        {
                            "type": "tool-args",
                            "value": {"name": "lookup_order", "arguments": {}},
                        },
                        {
                            "type": "tool-args-exact",
                            "value": {"name": "lookup_order", "arguments": {"order_id": "A-1"}},
                        },
                    ],
                },
                {"assistant": "Anything else?"},
                {"user": "No, thanks.", "reference": "Goodbye!"},
            ],
        }
    turn: dict[str, Any] = {"user": f"question {i}", "reference": f"answer {i}"}
    if i == 1:
        del turn["reference"]
    if i == 2:
        turn["expect"] = [
            {"type": "tool-args", "value": {"name": "lookup_order", "arguments": {"order_id": "B"}}}
        ]
    return {"id": f"c{i:03d}", "vars": {"q": "Hi"}, "turns": [turn]}


def test_a_conversation_with_a_tool_call_is_one_row_in_openais_function_calling_form(
    tmp_path: Path,
) -> None:
    (tmp_path / "prompt.yaml").write_text(TOOL_PROMPT, encoding="utf-8")
    suite_data = {
        "name": "support",
        "prompt": "prompt.yaml",
        "models": ["scripted"],
        "cases": [conversation_case(i) for i in range(12)],
    }
    (tmp_path / "suite.yaml").write_text(json.dumps(suite_data), encoding="utf-8")
    suite = load_suite(tmp_path / "suite.yaml")
    summary = export_finetune(the_run(), suite, tmp_path / "out")

    assert validate_jsonl(summary.train_path) == []
    rows = {row["messages"][2]["content"]: row for row in lines(summary.train_path)}
    row = rows["Where is order A-1?"]
    assert row["tools"][0]["function"]["name"] == "lookup_order"
    call_id = "call_1_1"
    assert row["messages"] == [
        {"role": "system", "content": "Look orders up before you answer."},
        {"role": "user", "content": "Hi"},
        {"role": "user", "content": "Where is order A-1?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order_id": "A-1"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": '{"status": "shipped"}'},
        {"role": "assistant", "content": "Order A-1 has shipped."},
        {"role": "assistant", "content": "Anything else?", "weight": 0},
        {"role": "user", "content": "No, thanks."},
        {"role": "assistant", "content": "Goodbye!"},
    ]
    plain = rows["question 3"]
    assert "tools" not in plain and plain["messages"][-1] == {
        "role": "assistant",
        "content": "answer 3",
    }
    assert "no reference" in summary.needs_reference["c001"]
    assert "no tool_results for it" in summary.needs_reference["c002"]


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"role": "tool", "content": "{}"}, "needs the tool_call_id"),
        ({"role": "assistant", "tool_calls": []}, "tool_calls must be a non-empty list"),
        (
            {"role": "assistant", "tool_calls": [{"id": "x", "function": {"name": "f"}}]},
            "tool_calls must be a non-empty list",
        ),
        ({"role": "tool", "tool_call_id": "x", "content": "{}", "weight": 1}, "unknown key"),
    ],
)
def test_tool_messages_are_validated(message: dict[str, Any], problem: str) -> None:
    example = {"messages": [{"role": "user", "content": "q"}, message, _ANSWER]}
    assert any(problem in p for p in validate_example(example))


_ANSWER = {"role": "assistant", "content": "a"}
