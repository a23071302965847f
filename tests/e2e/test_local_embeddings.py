"""The embedded model's embeddings (llama.cpp's embedding mode) and log-probabilities, and
the ``similar`` and ``perplexity`` checks on them, offline."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

from promptsuite.config import RunSettings
from promptsuite.models import GenerateRequest, GenerationParams, Message, ModelSpec
from promptsuite.models.local import LocalProvider
from promptsuite.runner import Runner, plan_jobs
from promptsuite.suite import load_suite

pytestmark = pytest.mark.e2e


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_embeddings_rank_a_paraphrase_above_unrelated_text(embedded_model: None) -> None:
    provider = LocalProvider(ModelSpec("local"))
    texts = ["I want my money back.", "Please refund my payment.", "Jupiter has many moons."]
    vectors = asyncio.run(provider.embed(texts))
    assert len(vectors) == 3 and len(vectors[0]) > 100
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2])
    assert asyncio.run(provider.embed(texts[:1]))[0] == vectors[0]


def test_logprobs_are_returned_when_asked(embedded_model: None) -> None:
    provider = LocalProvider(ModelSpec("local"))
    request = GenerateRequest(
        (Message("user", "Say hello."),), GenerationParams(max_tokens=8, logprobs=True)
    )
    generation = asyncio.run(provider.generate(request))
    assert generation.logprobs is not None
    assert len(generation.logprobs) == generation.completion_tokens
    assert all(lp <= 0 for lp in generation.logprobs)


def test_similar_and_perplexity_in_a_run(embedded_model: None, write: Any, tmp_path: Path) -> None:
    path = write(
        "suites/s.yaml",
        "prompt: {user: 'Repeat exactly: {{ text }}'}\n"
        "models: [local]\n"
        "defaults: {max_tokens: 24}\n"
        "cases:\n"
        "  - id: a\n"
        "    vars: {text: The cat sat on the mat.}\n"
        "    expect:\n"
        "      - {type: similar, value: A cat was sitting on the mat.}\n"
        "      - {type: not-similar, value: Stock markets fell sharply today.}\n"
        "      - {type: perplexity, threshold: 1000}\n",
    )
    runner = Runner(RunSettings(cache_path=tmp_path / "c.sqlite"))

    async def go() -> Any:
        try:
            return await runner.run_jobs(plan_jobs(load_suite(path)))
        finally:
            await runner.aclose()

    (result,) = asyncio.run(go())
    assert result.error is None, result.error
    checks = result.repeats[0].checks
    assert [c.type for c in checks] == ["similar", "not-similar", "perplexity"]
    assert checks[1].passed, checks[1].reason
    assert checks[2].passed, checks[2].reason
