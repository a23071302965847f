"""promptfoo's model-graded checks: factuality, closed QA, G-Eval, answer relevance,
select-best; each asks for schema-constrained JSON and refuses a reply it cannot read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptsuite.errors import CheckError
from promptsuite.models import Embeddings, GenerateRequest, Generation, ModelSpec
from tests.unit.checks.check_helpers import check


class Grader:
    """Answers each request with the next reply, recording the requests."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[ModelSpec | None, GenerateRequest]] = []

    async def __call__(self, spec: ModelSpec | None, request: GenerateRequest) -> Generation:
        self.requests.append((spec, request))
        return Generation(text=self.replies.pop(0))


async def word_embed(spec: ModelSpec | None, texts: Any) -> Embeddings:
    """Vectors that are equal for equal word sets: enough to tell relevant from not."""
    vocabulary = ["refund", "money", "back", "weather", "rain", "how", "get", "my"]
    return Embeddings([[float(w in t.lower().split()) for w in vocabulary] + [0.01] for t in texts])


@pytest.mark.parametrize(
    ("choice", "config", "passed", "score"),
    [
        ("A", None, True, 1.0),
        ("B", None, True, 1.0),
        ("C", None, True, 1.0),
        ("D", None, False, 0.0),
        ("E", None, True, 1.0),
        ("B", {"superset": 0.5}, True, 0.5),
        ("E", {"differButFactual": 0}, False, 0.0),
    ],
)
def test_factuality_scores_each_choice(
    choice: str, config: dict[str, float] | None, passed: bool, score: float
) -> None:
    grader = Grader(json.dumps({"reason": "compared", "choice": choice}))
    spec: dict[str, Any] = {"type": "factuality", "value": "Paris is the capital of France"}
    if config:
        spec["config"] = config
    result = check(spec, "The capital of France is Paris.", grade=grader)
    assert (result.passed, result.score) == (passed, score)
    assert f"({choice})" in result.reason
    request = grader.requests[0][1]
    assert request.params.json_schema is not None
    assert request.params.temperature == 0
    assert "Paris is the capital of France" in request.messages[-1].content


def test_factuality_uses_the_check_provider() -> None:
    grader = Grader('{"reason": "r", "choice": "C"}')
    check({"type": "model-graded-factuality", "value": "x", "provider": "openai:gpt-4o"},
          "x", grade=grader)  # fmt: skip
    assert grader.requests[0][0] == ModelSpec("openai", "gpt-4o")


@pytest.mark.parametrize(("answer", "passed"), [("Y", True), ("N", False), ("yes", True)])
def test_closed_qa(answer: str, passed: bool) -> None:
    grader = Grader(f'Thinking... {{"reason": "checked", "answer": "{answer}"}}')
    result = check({"type": "model-graded-closedqa", "value": "is polite"}, "Thanks!",
                   grade=grader)  # fmt: skip
    assert result.passed is passed


@pytest.mark.parametrize(
    ("score", "threshold", "passed"), [(8, None, True), (6, None, False), (6, 0.6, True)]
)
def test_g_eval_scores_out_of_ten(score: int, threshold: float | None, passed: bool) -> None:
    grader = Grader(json.dumps({"steps": ["read"], "reason": "ok", "score": score}))
    spec: dict[str, Any] = {"type": "g-eval", "value": ["coherent", "concise"]}
    if threshold is not None:
        spec["threshold"] = threshold
    result = check(spec, "A reply.", grade=grader)
    assert (result.passed, result.score) == (passed, score / 10)
    assert "- coherent" in grader.requests[0][1].messages[-1].content


def test_answer_relevance_compares_generated_questions_with_the_query() -> None:
    query = {"query": "how get my money back"}
    relevant = Grader('{"questions": ["how get my money back", "how get my money back"]}')
    result = check({"type": "answer-relevance"}, "You get a refund in 5 days.",
                   grade=relevant, vars=query, embed=word_embed)  # fmt: skip
    assert result.passed, result.reason
    unrelated = Grader('{"questions": ["weather rain", "rain weather"]}')
    result = check({"type": "answer-relevance"}, "It rains.", grade=unrelated, vars=query,
                   embed=word_embed)  # fmt: skip
    assert not result.passed
    assert result.score < 0.2


@pytest.mark.parametrize("mine", [0, 1, 2])
def test_select_best_passes_only_the_chosen_variant(mine: int) -> None:
    async def peers() -> tuple[list[str], int]:
        return ["dull", "witty", "long"], mine

    grader = Grader('{"reason": "funniest", "best": 1}')
    result = check({"type": "select-best", "value": "the funniest"},
                   ["dull", "witty", "long"][mine], grade=grader, peers=peers)  # fmt: skip
    assert result.passed is (mine == 1)
    assert 'index="2"' in grader.requests[0][1].messages[-1].content


@pytest.mark.parametrize(
    ("spec", "reply", "message"),
    [
        ({"type": "factuality", "value": "x"}, "I think it is fine", "expected JSON with choice"),
        ({"type": "factuality", "value": "x"}, '{"choice": "Z"}', "expected JSON with choice"),
        ({"type": "model-graded-closedqa", "value": "x"}, '{"answer": 1}', "with answer"),
        ({"type": "g-eval", "value": "x"}, '{"score": 11}', "with score"),
        ({"type": "answer-relevance"}, '{"questions": []}', "with questions"),
    ],
)
def test_unreadable_replies_are_errors(spec: dict[str, Any], reply: str, message: str) -> None:
    with pytest.raises(CheckError, match=message):
        check(spec, "out", grade=Grader(reply))


def test_model_graded_checks_need_a_grader() -> None:
    with pytest.raises(CheckError, match="needs a grader model"):
        check({"type": "g-eval", "value": "x"}, "out")


def test_select_best_needs_variants() -> None:
    with pytest.raises(CheckError, match="compares prompt variants"):
        check({"type": "select-best", "value": "x"}, "out", grade=Grader("{}"))
