"""The openai provider's embeddings and log-probabilities, through the real client against
the local stub, and the checks that use them through a whole run."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptsuite.config import RunSettings
from promptsuite.errors import BadResponse
from promptsuite.models import GenerateRequest, GenerationParams, Message, ModelSpec
from promptsuite.models.openai.provider import OpenAIProvider
from promptsuite.runner import Runner, plan_jobs
from promptsuite.suite import load_suite

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.stub_server import StubServer  # noqa: E402


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


def provider(base_url: str, **options: Any) -> OpenAIProvider:
    merged = {"base_url": base_url, "backoff_base": 0.01, "backoff_max": 0.02, **options}
    return OpenAIProvider(ModelSpec("openai", "stub-model", options=tuple(sorted(merged.items()))))


def embed(p: OpenAIProvider, texts: list[str]) -> list[list[float]]:
    async def go() -> list[list[float]]:
        try:
            return await p.embed(texts)
        finally:
            await p.aclose()

    return asyncio.run(go())


def test_embeddings_come_from_the_embeddings_endpoint(stub: StubServer) -> None:
    vectors = embed(provider(stub.base_url, embedding_model="emb-1"), ["a cat", "a cat", "dogs"])
    assert len(vectors) == 3 and vectors[0] == vectors[1] != vectors[2]
    assert stub.stats().by_kind["embeddings"] == 1
    assert provider(stub.base_url, embedding_model="emb-1").embedding_identity()["model"] == "emb-1"


def test_an_embeddings_answer_without_the_vectors_is_refused(stub: StubServer) -> None:
    p = provider(stub.base_url)
    with pytest.raises(BadResponse, match="0 of 1 vectors"):
        p._parse_embeddings(b'{"data": []}', 1)
    with pytest.raises(BadResponse, match="1 of 2 vectors"):
        p._parse_embeddings(b'{"data": [{"index": 0, "embedding": [1, 2]}]}', 2)


def test_logprobs_are_asked_for_and_read(stub: StubServer) -> None:
    request = GenerateRequest((Message("user", "one two three"),), GenerationParams(logprobs=True))

    async def go() -> Any:
        p = provider(stub.base_url)
        try:
            return await p.generate(request)
        finally:
            await p.aclose()

    generation = asyncio.run(go())
    assert generation.logprobs == (-0.1, -0.1, -0.1)


def test_similar_and_perplexity_through_a_run(stub: StubServer, tmp_path: Path, write: Any) -> None:
    path = write(
        "suites/s.yaml",
        "prompt: {user: '{{ w }}'}\n"
        f"models: [{{provider: openai, model: stub, base_url: '{stub.base_url}'}}]\n"
        "cases:\n"
        "  - id: a\n"
        "    vars: {w: the cat sat}\n"
        "    expect:\n"
        "      - {type: similar, value: the cat sat, threshold: 0.99}\n"
        "      - {type: perplexity, threshold: 1.2}\n"
        "      - {type: perplexity-score, threshold: 0.45}\n",
    )
    runner = Runner(RunSettings(cache_path=tmp_path / "c.sqlite"))

    async def go() -> Any:
        try:
            return await runner.run_jobs(plan_jobs(load_suite(path)))
        finally:
            await runner.aclose()

    (result,) = asyncio.run(go())
    assert result.passed, result.error or [c.reason for c in result.repeats[0].checks]
    assert stub.received()[0].body["logprobs"] is True
