"""``similar``: embedding similarity to one reference or any of several (promptfoo's rule)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from promptsuite.errors import CheckError, ModelError
from promptsuite.models import Embeddings, ModelSpec
from tests.unit.checks.check_helpers import check

VECTORS = {
    "a cat sat": [1.0, 0.0, 0.0],
    "a kitten sat": [0.8, 0.6, 0.0],
    "stocks fell": [0.0, 0.0, 1.0],
}


class Embedder:
    def __init__(self) -> None:
        self.calls: list[tuple[ModelSpec | None, list[str]]] = []

    async def __call__(self, spec: ModelSpec | None, texts: Sequence[str]) -> Embeddings:
        self.calls.append((spec, list(texts)))
        return Embeddings([VECTORS[t] for t in texts])


@pytest.mark.parametrize(
    ("spec", "output", "passed", "score"),
    [
        ({"type": "similar", "value": "a kitten sat"}, "a cat sat", True, 0.8),
        ({"type": "similar", "value": "a kitten sat", "threshold": 0.9}, "a cat sat", False, 0.8),
        ({"type": "similar", "value": "stocks fell"}, "a cat sat", False, 0.0),
        ({"type": "similar", "value": ["stocks fell", "a kitten sat"]}, "a cat sat", True, 0.8),
        ({"type": "not-similar", "value": "stocks fell"}, "a cat sat", True, 1.0),
        # not-similar to a list passes only when dissimilar to every value.
        ({"type": "not-similar", "value": ["stocks fell", "a kitten sat"]}, "a cat sat",
         False, 0.2),
        ({"type": "similar:dot", "value": "a kitten sat"}, "a cat sat", True, 0.8),
        ({"type": "similar:euclidean", "value": "a cat sat", "threshold": 0.99}, "a cat sat",
         True, 1.0),
    ],
)  # fmt: skip
def test_similar(spec: dict[str, Any], output: str, passed: bool, score: float) -> None:
    result = check(spec, output, embed=Embedder())
    assert result.passed is passed, result.reason
    assert result.score == pytest.approx(score)


def test_similar_embeds_with_the_named_provider_in_one_call() -> None:
    embedder = Embedder()
    check({"type": "similar", "value": ["stocks fell", "a kitten sat"], "provider": "local"},
          "a cat sat", embed=embedder)  # fmt: skip
    assert embedder.calls == [(ModelSpec("local"), ["a cat sat", "stocks fell", "a kitten sat"])]


def test_similar_without_an_embedder_is_an_error() -> None:
    with pytest.raises(CheckError, match="needs an embedding model"):
        check({"type": "similar", "value": "x"}, "y")


def test_a_failing_embedder_is_an_error() -> None:
    async def broken(spec: ModelSpec | None, texts: Sequence[str]) -> Embeddings:
        raise ModelError("no embeddings here")

    with pytest.raises(CheckError, match="no embeddings here"):
        check({"type": "similar", "value": "x"}, "y", embed=broken)


def test_an_identical_output_needs_no_embedder() -> None:
    assert check({"type": "similar", "value": ["other", "same text"]}, "same text").score == 1.0
    negated = check({"type": "not-similar", "value": ["other", "same text"]}, "same text")
    assert (negated.passed, negated.score) == (False, 0.0)
