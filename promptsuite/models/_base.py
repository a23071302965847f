"""The provider interface: one abstract class with one async method."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promptsuite.errors import ModelError


@dataclass(frozen=True)
class ToolCall:
    """A call of a declared tool, as the model asked for it.

    Attributes:
        id: The call's id (answered by a ``tool`` message with the same ``tool_call_id``).
        name: The tool's name.
        arguments: The arguments as the model wrote them: JSON text, possibly invalid.
    """

    id: str
    name: str
    arguments: str = "{}"

    def to_dict(self) -> dict[str, Any]:
        """OpenAI's form of a tool call."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    @classmethod
    def from_dict(cls, data: Any, position: int = 0) -> ToolCall | None:
        """Read OpenAI's form; None when it is not a function call."""
        function = data.get("function") if isinstance(data, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            return None
        arguments = function.get("arguments")
        if not isinstance(arguments, str):  # some servers send the object itself
            arguments = json.dumps(arguments if arguments is not None else {})
        call_id = data.get("id")
        return cls(
            call_id if isinstance(call_id, str) else f"call_{position}", function["name"], arguments
        )


def tool_calls_of(items: Any) -> tuple[ToolCall, ...]:
    """The function calls in an OpenAI ``tool_calls`` list (anything else: none)."""
    if not isinstance(items, list):
        return ()
    calls = (ToolCall.from_dict(item, i) for i, item in enumerate(items))
    return tuple(call for call in calls if call is not None)


@dataclass(frozen=True)
class Message:
    """One chat message.

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: The text.
        tool_calls: The tools an assistant message calls.
        tool_call_id: The call a ``tool`` message answers.
    """

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        # Only when present, so plain messages keep their cache keys and file form.
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Read :meth:`to_dict`'s form."""
        call_id = data.get("tool_call_id")
        return cls(
            str(data.get("role", "")),
            str(data.get("content") or ""),
            tool_calls_of(data.get("tool_calls")),
            call_id if isinstance(call_id, str) else None,
        )


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters sent with a request; all of them are part of the cache key.

    Attributes:
        temperature: Sampling temperature.
        max_tokens: Upper bound on generated tokens.
        seed: Sampling seed, where the backend honours one.
        stop: Stop sequences.
        json_schema: When set, ask the backend for output constrained to this JSON Schema
            (used by the ``judge`` grader); backends that cannot constrain ignore it.
        logprobs: Ask for the log-probability of each generated token (for ``perplexity``
            checks); backends that cannot return them ignore it.
        tools: Tools the model may call (OpenAI's ``tools`` format).
        response_format: OpenAI's ``response_format`` as a prompt or case asks for it;
            backends without it constrain to its schema, or ignore it.
    """

    temperature: float = 0.0
    max_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None
    logprobs: bool = False
    tools: tuple[dict[str, Any], ...] = ()
    response_format: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
            "json_schema": self.json_schema,
        }
        # Only when asked for, so requests without them keep their cache keys.
        if self.logprobs:
            data["logprobs"] = True
        if self.tools:
            data["tools"] = list(self.tools)
        if self.response_format is not None:
            data["response_format"] = self.response_format
        return data

    def schema_to_enforce(self) -> dict[str, Any] | None:
        """The JSON Schema output must follow: the grader's, else the response format's."""
        if self.json_schema is not None:
            return self.json_schema
        rf = self.response_format or {}
        if rf.get("type") == "json_schema":
            schema = (rf.get("json_schema") or {}).get("schema")
            return schema if isinstance(schema, dict) else None
        if rf.get("type") == "json_object":
            return {"type": "object"}
        return None


@dataclass(frozen=True)
class GenerateRequest:
    """What a provider is asked to complete.

    Attributes:
        messages: The conversation to complete.
        params: Sampling parameters.
        repeat: Which repeat of a case this is. Providers that seed their sampling offset the
            seed by it, so repeats at temperature > 0 are independent samples rather than
            copies of the first one (and each stays reproducible).
    """

    messages: tuple[Message, ...]
    params: GenerationParams = field(default_factory=GenerationParams)
    repeat: int = 0


@dataclass(frozen=True)
class Generation:
    """A completion and its measured cost.

    Attributes:
        text: The model's reply.
        prompt_tokens: Tokens in the prompt, as the backend counted them (0 if unknown).
        completion_tokens: Tokens generated (0 if unknown).
        latency_s: Wall time of the call that produced it, in seconds.
        finish_reason: Why generation stopped (``stop``, ``length``...), if known.
        model: The model name the backend reported.
        cached: True when served from the response cache instead of the model.
        logprobs: The log-probability of each generated token, when asked for and returned.
        tool_calls: The tools the model called instead of (or beside) answering.
        retried: Requests for it that failed and were sent again before this answer came
            (a provider's retries; never stored in the cache, 0 for a cached answer).
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    model: str = ""
    cached: bool = False
    logprobs: tuple[float, ...] | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    retried: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_s,
            "finish_reason": self.finish_reason,
            "model": self.model,
        }
        if self.logprobs is not None:
            data["logprobs"] = list(self.logprobs)
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, cached: bool = False) -> Generation:
        logprobs = data.get("logprobs")
        return cls(
            text=str(data["text"]),
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            latency_s=float(data.get("latency_s", 0.0)),
            finish_reason=data.get("finish_reason"),
            model=str(data.get("model", "")),
            cached=cached,
            logprobs=tuple(float(x) for x in logprobs) if isinstance(logprobs, list) else None,
            tool_calls=tool_calls_of(data.get("tool_calls")),
        )


@dataclass(frozen=True)
class Embeddings:
    """Embedding vectors, and the ``similar`` pass mark that suits the model that made them.

    Attributes:
        vectors: One vector per text, in order.
        similar_threshold: The cosine similarity ``similar`` needs by default with this
            embedder (promptfoo's 0.75 was set for OpenAI's embedding models).
    """

    vectors: list[list[float]]
    similar_threshold: float = 0.75


@dataclass(frozen=True)
class ModelSpec:
    """A model as a suite or the command line names it.

    Attributes:
        provider: Registered provider name (``local``, ``openai``, ``replay``, ``scripted``).
        model: The provider's model name or path (a GGUF path for ``local``).
        label: Short name used in test ids (``refund[local]``).
        options: Provider options (``base_url``, ``api_key_env``, ``threads``...). Never
            holds a secret: keys are read from the environment at call time.
    """

    provider: str
    model: str = ""
    label: str = ""
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def options_dict(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        if self.provider == "replay":
            # A replay stands in for the recorded model: same test ids, same baseline keys.
            return self.model or "local"
        return f"{self.provider}:{self.model}" if self.model else self.provider


class Provider(ABC):
    """A model backend. Subclasses implement :meth:`generate` and describe themselves.

    Providers raise :class:`promptsuite.errors.ModelError` subclasses for every failure,
    after their own bounded retries.
    """

    #: Most requests this provider should have in flight at once (None: no own limit).
    max_concurrency: int | None = None
    #: The default pass mark of ``similar`` with this provider's embeddings.
    similar_threshold: float = 0.75

    @abstractmethod
    async def generate(self, request: GenerateRequest) -> Generation:
        """Complete ``request``."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What identifies this backend in a cache key: provider, model, endpoint.

        Must never include a secret.
        """

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One embedding vector per text (for ``similar`` checks).

        Raises:
            ModelError: This backend cannot embed text (the default), or the call failed.
        """
        raise ModelError(f"{type(self).__name__} cannot embed text")

    def embedding_identity(self) -> dict[str, Any]:
        """What identifies the embedding model; by default the generation identity."""
        return self.identity()

    async def aclose(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections or model memory."""


def token_logprobs(logprobs: object) -> tuple[float, ...] | None:
    """The per-token log-probabilities of a chat completion choice's ``logprobs``, if any."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return None
    values = [t.get("logprob") for t in content if isinstance(t, dict)]
    floats = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return tuple(floats) if floats else None
