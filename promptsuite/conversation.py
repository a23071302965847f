"""Conversations and tool round trips: the model's replies carried into the next turn.

A reply that calls tools is answered with the case's canned results (one ``tool`` message
per call) and the model is asked again, up to :data:`MAX_TOOL_ROUNDS` times, so a turn's
answer is the first reply that calls no tool. Every request goes through the runner's
``generate`` (cache, concurrency bounds), so conversations are cached turn by turn.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptsuite.errors import ModelError
from promptsuite.models import GenerateRequest, Generation, GenerationParams, Message, ToolCall
from promptsuite.results import GenerationRecord

#: Tool round trips one turn may take before its last reply counts as the answer.
MAX_TOOL_ROUNDS = 4

Generate = Callable[[GenerateRequest], Awaitable[Generation]]


@dataclass(frozen=True)
class Reply:
    """A model's answer to one user message, after its tool round trips.

    Attributes:
        generation: The last generation (the answer).
        generations: Every generation of the turn, tool-calling ones first.
        calls: Every tool call of the turn, in order.
        messages: What the turn added to the conversation: assistant replies (with their
            tool calls) and tool results, the answer last.
    """

    generation: Generation
    generations: tuple[Generation, ...]
    calls: tuple[ToolCall, ...]
    messages: tuple[Message, ...]


def tool_content(value: Any) -> str:
    """A canned tool result as a ``tool`` message's text: text as is, else JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _no_result(name: str) -> str:
    return json.dumps({"error": f"no result for tool {name!r} in this test case"})


async def respond(
    generate: Generate,
    messages: Sequence[Message],
    params: GenerationParams,
    repeat: int,
    tool_results: Mapping[str, Any],
) -> Reply:
    """Ask the model to answer ``messages``, answering its tool calls from ``tool_results``.

    Raises:
        PromptsuiteError: As the runner's generate raises (model errors, cache misses).
    """
    sent = list(messages)
    added: list[Message] = []
    generations: list[Generation] = []
    calls: list[ToolCall] = []
    for _ in range(MAX_TOOL_ROUNDS + 1):
        generation = await generate(GenerateRequest(tuple(sent), params, repeat))
        generations.append(generation)
        reply = Message("assistant", generation.text, generation.tool_calls)
        sent.append(reply)
        added.append(reply)
        if not generation.tool_calls:
            break
        calls.extend(generation.tool_calls)
        for call in generation.tool_calls:
            value = tool_results.get(call.name)
            content = _no_result(call.name) if value is None else tool_content(value)
            result = Message("tool", content, tool_call_id=call.id)
            sent.append(result)
            added.append(result)
    return Reply(generation, tuple(generations), tuple(calls), tuple(added))


@dataclass
class CallTally:
    """What one sample's requests to its model came to, as they are made.

    The runner adds every answer (from the model or the cache) and every request that
    failed, so a sample that errors half-way still reports what it spent.

    Attributes:
        answers: Every answer, in order.
        failed: Requests sent that got no usable answer (retried ones included).
        retried: Of those, the requests that were sent again.
        unusable_tokens: (prompt, completion) tokens the endpoint reported in answers that
            could not be used.
    """

    answers: list[Generation] = field(default_factory=list)
    failed: int = 0
    retried: int = 0
    unusable_tokens: tuple[int, int] = (0, 0)

    def answered(self, generation: Generation) -> None:
        """Count an answer, and the failed requests its provider retried before it."""
        self.answers.append(generation)
        self.failed += generation.retried
        self.retried += generation.retried

    def gave_up(self, error: ModelError) -> None:
        """Count the requests of a generation that failed: each but the last was retried."""
        self.failed += error.requests
        self.retried += max(error.requests - 1, 0)
        prompt, completion = self.unusable_tokens
        self.unusable_tokens = (prompt + error.prompt_tokens, completion + error.completion_tokens)

    def record(self) -> GenerationRecord | None:
        """The sample's record; None when it neither sent a request nor hit the cache."""
        answers = self.answers
        if not answers and not self.failed:
            return None
        last = answers[-1] if answers else None
        return GenerationRecord(
            prompt_tokens=sum(g.prompt_tokens for g in answers) + self.unusable_tokens[0],
            completion_tokens=sum(g.completion_tokens for g in answers) + self.unusable_tokens[1],
            latency_s=sum(g.latency_s for g in answers),
            finish_reason=last.finish_reason if last else None,
            model=last.model if last else "",
            cached=bool(answers) and not self.failed and all(g.cached for g in answers),
            calls=len(answers),
            # As one answer's record reads back: its hit is ``cached``.
            cache_hits=sum(g.cached for g in answers) if len(answers) != 1 or self.failed else None,
            failed=self.failed,
            retried=self.retried,
        )


def total_generation(generations: Sequence[Generation], text: str) -> Generation:
    """One generation standing for several (for checks of a whole conversation)."""
    record = CallTally(list(generations)).record() or GenerationRecord(calls=0)
    return Generation(
        text=text,
        prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens,
        latency_s=record.latency_s,
        finish_reason=record.finish_reason,
        model=record.model,
        cached=record.cached,
        tool_calls=tuple(c for g in generations for c in g.tool_calls),
    )


def transcript_output(replies: Sequence[str]) -> str:
    """What a conversation's own checks read: the model's answers, one paragraph each."""
    return "\n\n".join(replies)


def numbered(messages: Sequence[Message], turn: int | None) -> list[dict[str, Any]]:
    """Messages as transcript entries, each marked with the turn that produced it."""
    entries = [m.to_dict() for m in messages]
    if turn is not None:
        for entry in entries:
            entry["turn"] = turn
    return entries
