"""The embedded model with tools and a response format: real llama.cpp constrained decoding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from promptsuite.conversation import respond
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

LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "Look up an order by its number.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
            "additionalProperties": False,
        },
    },
}
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module", autouse=True)
def _model(embedded_model: None) -> Iterator[None]:
    yield
    local.shutdown_servers()


def test_a_response_format_makes_the_reply_json_of_the_schema() -> None:
    provider = LocalProvider(ModelSpec("local"))
    question = (Message("user", "Tell me about a person called Ann, aged 30."),)
    response_format = {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}}
    formatted = GenerationParams(max_tokens=40, response_format=response_format)

    async def both() -> list[Generation]:
        return [
            await provider.generate(GenerateRequest(question, GenerationParams(max_tokens=40))),
            await provider.generate(GenerateRequest(question, formatted)),
        ]

    free, constrained = asyncio.run(both())
    with pytest.raises(ValueError):
        json.loads(free.text)  # unconstrained, the model answers in prose
    data = json.loads(constrained.text)
    assert set(data) == {"name", "age"} and isinstance(data["age"], int)


def test_a_tool_call_with_schema_valid_arguments_and_its_result_in_the_next_request() -> None:
    provider = LocalProvider(ModelSpec("local"))
    messages = (
        # The system message of prompts/order_support.yaml, with which the model calls it.
        Message(
            "system",
            "You are the support assistant of an online shop. When a customer asks about an "
            "order, call lookup_order with the order number. After the tool returns, answer "
            "the customer in one short sentence using the status and date it gives.",
        ),
        Message("user", "Hi, where is my order A-1042?"),
    )
    params = GenerationParams(max_tokens=48, tools=(LOOKUP,))
    reply = asyncio.run(
        respond(provider.generate, messages, params, 0, {"lookup_order": {"status": "shipped"}})
    )
    first = reply.generations[0]
    [call] = first.tool_calls
    assert call.name == "lookup_order"
    assert set(json.loads(call.arguments)) == {"order_id"}  # the grammar admits no other
    assert reply.messages[1] == Message("tool", '{"status": "shipped"}', tool_call_id=call.id)
