"""The judge check: a grader model scores the output against a rubric."""

from __future__ import annotations

from typing import Any

import pytest

from promptsuite.checks import CheckResult
from promptsuite.errors import CheckError, ModelError
from promptsuite.models import GenerateRequest, Generation, ModelSpec
from tests.unit.checks.check_helpers import check


class FakeGrader:
    """A ``grade`` callable that records its requests and answers with a fixed reply."""

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.calls: list[tuple[ModelSpec | None, GenerateRequest]] = []

    async def __call__(self, spec: ModelSpec | None, request: GenerateRequest) -> Generation:
        self.calls.append((spec, request))
        if isinstance(self.reply, Exception):
            raise self.reply
        return Generation(text=self.reply)


def judge(
    reply: str | Exception, output: str = "Of course, here is how.", **spec: Any
) -> tuple[CheckResult, FakeGrader]:
    grader = FakeGrader(reply)
    spec = {"type": "judge", "rubric": "The reply is polite.", **spec}
    return check(spec, output, grade=grader), grader


@pytest.mark.parametrize(
    ("reply", "threshold", "passed", "score"),
    [
        ('{"reason": "polite", "score": 0.9, "pass": true}', None, True, 0.9),
        ('```json\n{"reason": "rude", "score": 0.1, "pass": false}\n```', None, False, 0.1),
        ('Here is my grade: {"Reason": "ok", "Score": "8/10", "PASS": "yes"} Hope it helps.',
         None, True, 0.8),
        ('Thinking {not json}. Final: {"pass": "no", "reason": "curt"}', None, False, 0.0),
        ('{"pass": true, "reason": "fine"}', None, True, 1.0),
        ('{"pass": true}', 0.5, True, 1.0),
        ('{"score": 0.7}', None, True, 0.7),
        ('{"score": 0.3}', None, False, 0.3),
        ('{"score": "0.6"}', 0.7, False, 0.6),
        ('{"score": "80%"}', None, True, 0.8),
        ('{"score": 8, "pass": true}', None, True, 0.8),
        ('{"reason": "meh", "score": 0.4, "pass": true}', None, True, 0.4),
        ('{"reason": "meh", "score": 0.4, "pass": true}', 0.5, False, 0.4),
        ("Score: 9/10\nReason: warm and clear", None, True, 0.9),
        ("Verdict: fail. Reason: dismissive", None, False, 0.0),
    ],
)  # fmt: skip
def test_judge_reads_replies(
    reply: str, threshold: float | None, passed: bool, score: float
) -> None:
    extra: dict[str, Any] = {} if threshold is None else {"threshold": threshold}
    result, _ = judge(reply, **extra)
    assert result.passed is passed
    assert result.score == pytest.approx(score)
    assert result.reason.startswith("expected output to satisfy the rubric 'The reply is polite.'")


@pytest.mark.parametrize(
    "reply",
    ["I think it is fine.", "", '{"verdict": "good"}', '{"score": 250}', '{"pass": "maybe"}'],
)
def test_judge_unreadable_reply_is_an_error(reply: str) -> None:
    with pytest.raises(CheckError, match="cannot read the judge grader's reply") as info:
        judge(reply)
    assert repr(reply[:200]) in str(info.value)


def test_judge_error_quotes_only_the_start_of_a_long_reply() -> None:
    with pytest.raises(CheckError) as info:
        judge("blah " * 200)
    assert len(str(info.value)) < 320


def test_judge_request() -> None:
    result, grader = judge('{"reason": "ok", "score": 1, "pass": true}', output="THE OUTPUT")
    assert result.passed
    [(spec, request)] = grader.calls
    assert spec is None  # the run's default grader
    params = request.params
    assert params.temperature == 0
    assert params.max_tokens == 300
    assert params.json_schema is not None
    assert set(params.json_schema["required"]) == {"reason", "score", "pass"}
    assert params.json_schema["properties"]["pass"] == {"type": "boolean"}
    system, user = request.messages
    assert system.role == "system" and "JSON" in system.content
    assert user.role == "user"
    for text in ("The reply is polite.", "Be brief.", "Can I get my money back?", "THE OUTPUT"):
        assert text in user.content
    assert user.content.index("money back") < user.content.index("THE OUTPUT")


@pytest.mark.parametrize(
    ("grader", "expected"),
    [
        ("openai:gpt-4o-mini", ModelSpec(provider="openai", model="gpt-4o-mini")),
        ({"provider": "local", "label": "tiny"}, ModelSpec(provider="local", label="tiny")),
    ],
)
def test_judge_passes_the_grader_spec(grader: Any, expected: ModelSpec) -> None:
    _, fake = judge('{"pass": true}', grader=grader)
    assert fake.calls[0][0] == expected


def test_judge_rubric_from_value_and_llm_rubric_alias() -> None:
    grader = FakeGrader('{"pass": false, "score": 0.2, "reason": "rude"}')
    result = check({"type": "llm-rubric", "value": "Be kind"}, "go away", grade=grader)
    assert result.passed is False
    assert result.score == pytest.approx(0.2)
    assert "Be kind" in grader.calls[0][1].messages[1].content


def test_judge_negated() -> None:
    grader = FakeGrader('{"pass": true, "score": 0.9, "reason": "mentions pricing"}')
    result = check({"type": "not-judge", "value": "Mentions pricing"}, "x", grade=grader)
    assert result.passed is False
    assert result.score == pytest.approx(0.1)
    assert result.reason.startswith("expected output not to satisfy the rubric")


def test_judge_grader_failure_is_a_check_error() -> None:
    with pytest.raises(CheckError, match="judge grader openai:gpt-x failed: down"):
        judge(ModelError("down"), grader="openai:gpt-x")
