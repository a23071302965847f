"""Conversations in the runner: turns in order, replies carried, tool round trips, repeats,
errors mid-way, and the failure message's transcript."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from promptsuite.config import RunSettings
from promptsuite.console import format_failure
from promptsuite.conversation import MAX_TOOL_ROUNDS, respond, tool_content
from promptsuite.errors import TransportError
from promptsuite.models import (
    GenerateRequest,
    Generation,
    GenerationParams,
    Message,
    ModelSpec,
    Provider,
    ToolCall,
    register_provider,
)
from promptsuite.results import CaseResult, GenerationRecord
from promptsuite.runner import Runner, plan_jobs
from promptsuite.suite import load_suite

Write = Callable[[str, str], Path]


class Agent(Provider):
    """Calls ``lookup`` when asked about an order, repeats the tool's result, counts turns."""

    seen: ClassVar[list[GenerateRequest]] = []

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def identity(self) -> dict[str, Any]:
        return {"provider": "agent"}

    async def generate(self, request: GenerateRequest) -> Generation:
        type(self).seen.append(request)
        last = request.messages[-1]
        if "loop" in request.messages[0].content:  # calls the tool forever
            call = ToolCall("call_1", "lookup", "{}")
            return Generation("", 1, 1, 0.1, "tool_calls", "agent", tool_calls=(call,))
        if last.role == "tool":
            return Generation(f"result: {last.content}", 2, 2, 0.5, "stop", "agent")
        if "order" in last.content:
            call = ToolCall("call_9", "lookup", json.dumps({"id": last.content.split()[-1]}))
            return Generation("", 2, 1, 0.5, "tool_calls", "agent", tool_calls=(call,))
        if "explode" in last.content:
            raise TransportError("HTTP 503 after 3 attempts", requests=3)
        replies = sum(m.role == "assistant" for m in request.messages)
        return Generation(f"reply {replies + 1} to {last.content}", 1, 3, 0.5, "stop", "agent")


@pytest.fixture(autouse=True)
def _agent() -> None:
    register_provider("agent", Agent)
    Agent.seen = []


SUITE = """
prompt:
  system: "Help."
  tools: [{type: function, function: {name: lookup}}]
models: [agent]
defaults: {repeat: 2}
cases:
  - id: chat
    vars: {n: A-1}
    tool_results: {lookup: {status: shipped}}
    turns:
      - user: "hello"
        expect: [{type: contains, value: reply 1}]
      - assistant: "fixed"
      - user: "my order {{ n }}"
        expect:
          - {type: tool-args-exact, value: {name: lookup, arguments: {id: "{{ n }}"}}}
          - {type: contains, value: shipped}
      - user: "bye"
        expect: [{type: contains, value: reply 5}]
    expect:
      - {type: tool-order, value: [lookup]}
      - {type: contains, value: "reply 1 to hello\\n\\nresult:"}
  - id: broken
    turns:
      - user: "hello"
        expect: [{type: contains, value: nope}]
      - user: "explode"
"""


def run(path: Path, tmp_path: Path) -> tuple[Runner, list[CaseResult]]:
    runner = Runner(RunSettings(cache_path=tmp_path / "cache.sqlite"))

    async def go() -> list[CaseResult]:
        try:
            return await runner.run_jobs(plan_jobs(load_suite(path)))
        finally:
            await runner.aclose()

    return runner, asyncio.run(go())


def test_turns_carry_replies_and_tool_results_and_check_each_turn(
    write: Write, tmp_path: Path
) -> None:
    runner, (chat, _) = run(write("suites/s.yaml", SUITE), tmp_path)
    assert chat.passed, format_failure(chat)
    assert len(chat.repeats) == 2
    repeat = chat.repeats[0]
    assert [c.turn for c in repeat.checks] == [1, 2, 2, 3, None, None]
    assert repeat.output == 'reply 1 to hello\n\nresult: {"status": "shipped"}\n\nreply 5 to bye'
    assert [(m["role"], m.get("turn")) for m in repeat.transcript or ()] == [
        ("system", None), ("user", 1), ("assistant", 1), ("assistant", 1), ("user", 2),
        ("assistant", 2), ("tool", 2), ("assistant", 2), ("user", 3), ("assistant", 3),
    ]  # fmt: skip
    assert repeat.generation is not None
    assert (repeat.generation.calls, repeat.generation.latency_s) == (4, 2.0)
    last = max(Agent.seen, key=lambda r: len(r.messages))
    assert [m.role for m in last.messages] == [
        "system", "user", "assistant", "assistant", "user", "assistant", "tool", "assistant",
        "user",
    ]  # fmt: skip
    assert last.messages[5].tool_calls[0].id == last.messages[6].tool_call_id == "call_9"
    assert last.params.tools[0]["function"]["name"] == "lookup"
    # 4 requests a repeat of the first case; the second case's first turn is the same
    # request as the first's (answered by the cache), its second fails after 3 requests.
    stats = runner.stats
    assert (stats.model_calls, stats.failed_calls, stats.cache_hits, stats.errors) == (14, 6, 2, 2)


def test_an_error_mid_conversation_keeps_the_transcript_so_far(
    write: Write, tmp_path: Path
) -> None:
    _, (_, broken) = run(write("suites/s.yaml", SUITE), tmp_path)
    assert broken.error is not None and broken.error_kind == "TransportError"
    assert "case 'broken', turn 2: HTTP 503" in broken.error
    # What the conversation spent before the error is kept: the first turn's answer (from
    # the cache here) and the three failed requests of the second.
    record = broken.repeats[0].generation
    assert record is not None
    assert (record.calls, record.hits, record.failed, record.retried) == (1, 1, 3, 2)
    assert (record.prompt_tokens, record.completion_tokens, record.sent) == (1, 3, 3)
    assert GenerationRecord.from_dict(record.to_dict()) == record
    text = format_failure(broken)
    assert "  [user] hello\n  [assistant] reply 1 to hello\n  [user] explode" in text


def test_a_failure_shows_the_transcript_up_to_the_first_failing_turn(
    write: Write, tmp_path: Path
) -> None:
    suite = SUITE.replace("value: reply 5", "value: reply 9").replace("repeat: 2", "repeat: 1")
    _, (chat, _) = run(write("suites/s.yaml", suite), tmp_path)
    assert not chat.passed
    text = format_failure(chat)
    assert "transcript, up to turn 3, the first that failed:" in text
    assert '  [assistant] -> lookup({"id": "A-1"}) [call_9]' in text
    assert '  [tool call_9] {"status": "shipped"}' in text
    assert text.rstrip().endswith("  - turn 3: contains: expected output to contain 'reply 9'; "
                                  "got 'reply 5 to bye'")  # fmt: skip


def test_tool_round_trips_stop_after_the_limit_and_unknown_tools_get_an_error_result() -> None:
    requests: list[GenerateRequest] = []

    async def generate(request: GenerateRequest) -> Generation:
        requests.append(request)
        return await Agent(ModelSpec("agent")).generate(request)

    reply = asyncio.run(respond(generate, (Message("user", "loop"),), GenerationParams(), 0, {}))
    assert len(reply.generations) == MAX_TOOL_ROUNDS + 1
    assert len(reply.calls) == MAX_TOOL_ROUNDS + 1
    assert json.loads(requests[1].messages[-1].content) == {
        "error": "no result for tool 'lookup' in this test case"
    }
    assert tool_content("plain text") == "plain text"
    assert tool_content({"a": 1}) == '{"a": 1}'
