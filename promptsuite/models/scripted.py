"""A scripted provider: deterministic answers without a model, for tests and demos.

It is a real provider, so tests that use it exercise the real runner, cache and plugin.

Options (in the suite's model mapping or ``scripted:<reply>`` on the command line):
    reply: A fixed reply for every request.
    responses: ``{substring: reply}``; the first substring found in the last user message
        picks the reply.
    script: ``"module:function"`` called as ``function(messages, params) -> str``; ``params``
        holds the sampling parameters and ``repeat``, the repeat index of the case.
    fail: ``{substring: message}``; a matching request raises a ModelError.
Without any of these it echoes the last user message.

It also embeds text, deterministically: each lowercase word adds to one of 64 dimensions
(by its hash), so texts sharing words are similar and texts sharing none are orthogonal.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from promptsuite._imports import load_reference
from promptsuite.errors import ConfigError, ModelError
from promptsuite.models._base import GenerateRequest, Generation, ModelSpec, Provider

ScriptFunction = Callable[[list[dict[str, str]], dict[str, Any]], str]


class ScriptedProvider(Provider):
    """Answers from a script instead of a model."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        options = spec.options_dict
        self._reply: str | None = options.get("reply") or (spec.model or None)
        self._responses: dict[str, str] = dict(options.get("responses") or {})
        self._fail: dict[str, str] = dict(options.get("fail") or {})
        self._script_ref: str | None = options.get("script")
        self._script: ScriptFunction | None = None
        self.calls = 0

    def identity(self) -> dict[str, Any]:
        return {
            "provider": "scripted",
            "model": self.spec.model,
            "options": repr(self.spec.options),
        }

    def _load_script(self) -> ScriptFunction:
        if self._script is None:
            assert self._script_ref is not None
            try:
                self._script = load_reference(self._script_ref)
            except (ImportError, ValueError) as exc:
                raise ConfigError(
                    f"scripted provider: cannot load script {self._script_ref!r}: {exc}"
                ) from None
            if self._script is None:
                raise ConfigError(
                    f"scripted provider: cannot load script {self._script_ref!r}: no such function"
                )
        return self._script

    async def generate(self, request: GenerateRequest) -> Generation:
        started = time.perf_counter()
        self.calls += 1
        last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        for needle, message in self._fail.items():
            if needle in last_user:
                raise ModelError(f"scripted failure: {message}", requests=1)
        if self._script_ref:
            messages = [m.to_dict() for m in request.messages]
            params = {**request.params.to_dict(), "repeat": request.repeat}
            text = self._load_script()(messages, params)
        elif self._responses:
            text = next((r for k, r in self._responses.items() if k in last_user), "")
        elif self._reply is not None:
            text = self._reply
        else:
            text = last_user
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        return Generation(
            text=text,
            prompt_tokens=prompt_words,
            completion_tokens=len(text.split()),
            latency_s=time.perf_counter() - started,
            finish_reason="stop",
            model=f"scripted:{self.spec.model}",
        )

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Bag-of-words vectors (see the module docs)."""
        return [_word_vector(text) for text in texts]


_DIMENSIONS = 64


def _word_vector(text: str) -> list[float]:
    vector = [0.0] * _DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.sha1(word.encode()).hexdigest(), 16) % _DIMENSIONS] += 1.0
    return vector
