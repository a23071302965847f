"""End-to-end tests on the embedded model (SmolLM2-135M-Instruct through xllamacpp)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from promptsuite.models import (
    GenerateRequest,
    Generation,
    GenerationParams,
    Message,
    ModelSpec,
    local,
)
from promptsuite.models.local import LocalProvider

pytestmark = pytest.mark.e2e

QUESTIONS = [
    "What is the capital of France?",
    "Name a primary colour.",
    "What do bees make?",
    "How many legs does a spider have?",
]


@pytest.fixture(scope="module", autouse=True)
def _model(embedded_model: None) -> Iterator[None]:
    yield
    local.shutdown_servers()


def ask(
    question: str,
    *,
    max_tokens: int = 24,
    temperature: float = 0.0,
    json_schema: dict[str, Any] | None = None,
) -> GenerateRequest:
    params = GenerationParams(temperature, max_tokens, json_schema=json_schema)
    return GenerateRequest((Message("user", question),), params)


def run(provider: LocalProvider, *requests: GenerateRequest) -> list[Generation]:
    async def all_at_once() -> list[Generation]:
        return list(await asyncio.gather(*(provider.generate(r) for r in requests)))

    return asyncio.run(all_at_once())


def test_short_completion_has_text_and_token_counts() -> None:
    [generation] = run(LocalProvider(ModelSpec("local")), ask(QUESTIONS[0]))
    assert generation.text.strip()
    assert generation.prompt_tokens > 0
    assert 0 < generation.completion_tokens <= 24
    assert generation.finish_reason in ("stop", "length")
    assert generation.model == local.DEFAULT_MODEL_FILE
    assert generation.latency_s > 0


def test_temperature_zero_is_deterministic() -> None:
    provider = LocalProvider(ModelSpec("local"))
    [first] = run(provider, ask(QUESTIONS[1]))
    [second] = run(provider, ask(QUESTIONS[1]))
    assert first.text == second.text


def test_seeded_sampling_is_reproducible() -> None:
    provider = LocalProvider(ModelSpec("local"))
    [first] = run(provider, ask(QUESTIONS[2], temperature=0.9))
    [second] = run(provider, ask(QUESTIONS[2], temperature=0.9))
    assert first.text == second.text


def test_concurrent_calls_all_succeed() -> None:
    generations = run(LocalProvider(ModelSpec("local")), *(ask(q) for q in QUESTIONS))
    assert len(generations) == 4
    assert all(g.text.strip() and g.completion_tokens > 0 for g in generations)


def test_batched_slots_give_the_same_text_as_one_at_a_time() -> None:
    one_at_a_time = [run(LocalProvider(ModelSpec("local")), ask(q))[0].text for q in QUESTIONS]
    batched = LocalProvider(ModelSpec("local", options=(("parallel", 2),)))
    assert [g.text for g in run(batched, *(ask(q) for q in QUESTIONS))] == one_at_a_time


def test_json_schema_constrains_the_output() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    [generation] = run(
        LocalProvider(ModelSpec("local")),
        ask(QUESTIONS[0] + " Reply in JSON.", max_tokens=48, json_schema=schema),
    )
    assert set(json.loads(generation.text)) == {"answer"}
