"""promptsuite's models as DSPy engines: every call goes through promptsuite's runner.

DSPy's own cache is switched off (it ignores ``api_base``); the runner's response cache,
keyed by the provider's identity, the messages and every parameter, answers repeated
calls, so an interrupted or repeated search resumes cheaply.

DSPy asks for ``n`` samples of one request by sending the same request ``n`` times. The
k-th identical request of a run is sent as repeat ``k`` (part of the cache key; providers
offset their seed by it), so the samples differ and a rerun gets the same ones back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from promptsuite.cache import cache_key
from promptsuite.config import RunSettings
from promptsuite.models import (
    GenerateRequest,
    Generation,
    GenerationParams,
    Message,
    ModelSpec,
)
from promptsuite.optimize._records import ModelUsage
from promptsuite.optimize.search import _calls
from promptsuite.optimize.search._limits import Meter

__all__ = ["Bridge", "EngineStats", "PromptsuiteEngine"]

_T = TypeVar("_T")

#: Generation limit for the prompt-proposing model when DSPy does not set one.
PROPOSER_MAX_TOKENS = 512


class Bridge:
    """A promptsuite runner on its own event loop, callable from DSPy's worker threads."""

    def __init__(self, settings: RunSettings) -> None:
        from promptsuite.runner import Runner

        self.runner = Runner(settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="promptsuite-optimize", daemon=True
        )
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine on the bridge's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Close the runner's providers and cache, and stop the loop."""
        try:
            self.call(self.runner.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()


@dataclass
class EngineStats:
    """What one model cost the search so far (cache hits are free and counted apart)."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0
    last_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, generation: Generation) -> None:
        with self._lock:
            if generation.cached:
                self.cache_hits += 1
            else:
                self.calls += 1
                self.prompt_tokens += generation.prompt_tokens
                self.completion_tokens += generation.completion_tokens

    def usage(self) -> ModelUsage:
        """The counters as the run records them."""
        return ModelUsage(
            calls=self.calls, cache_hits=self.cache_hits, tokens=self.tokens, errors=self.errors
        )


class PromptsuiteEngine:
    """A DSPy engine (``complete(Request) -> Response``) backed by a promptsuite model.

    Args:
        bridge: The runner to call through.
        spec: The model.
        params: Fixed parameters for every call (the task model: the suite's own, so the
            search sends exactly what the runner will send), or None to take temperature
            and max_tokens from DSPy's request (the prompt-proposing model).
        seed: Sampling seed for requests that take their parameters from DSPy.
        task: Whether this is the task model (its calls are attributed to candidates).
        meter: The run's spending limits: a call is refused once one has run out.
    """

    def __init__(
        self,
        bridge: Bridge,
        spec: ModelSpec,
        *,
        params: GenerationParams | None,
        seed: int | None = None,
        task: bool,
        meter: Meter | None = None,
    ) -> None:
        self.bridge = bridge
        self.meter = meter
        self.spec = spec
        self.params = params
        self.seed = seed
        self.task = task
        self.stats = EngineStats()
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def request_for(self, request: Any) -> GenerateRequest:
        """The promptsuite request for a DSPy (lm15) request."""
        messages: list[Message] = []
        system = request.system
        if system is not None:
            text = system if isinstance(system, str) else "".join(p.text for p in system)
            messages.append(Message("system", text))
        messages.extend(Message(m.role, m.text or "") for m in request.messages)
        params = self.params
        if params is None:
            config = request.config
            params = GenerationParams(
                temperature=0.0 if config.temperature is None else float(config.temperature),
                max_tokens=config.max_tokens or PROPOSER_MAX_TOKENS,
                seed=self.seed,
                stop=tuple(config.stop or ()),
            )
        return GenerateRequest(tuple(messages), params)

    def _sample_index(self, request: GenerateRequest) -> int:
        key = cache_key({}, request, 0)
        with self._lock:
            index = self._seen.get(key, 0)
            self._seen[key] = index + 1
        return index

    def generate(self, request: GenerateRequest) -> Generation:
        """Generate through the runner (and its cache), counting the cost."""
        if self.meter is not None:
            self.meter.allow()
        index = self._sample_index(request)
        try:
            generation = self.bridge.call(
                self.bridge.runner.generate(self.spec, replace(request, repeat=index), index)
            )
        except Exception as exc:
            if self.meter is not None:
                self.meter.release()
            with self.stats._lock:
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            raise
        self.stats.add(generation)
        if self.meter is not None:
            self.meter.add_call(self.spec, generation)
        if self.task:
            _calls.attach(request.messages, generation)
        return generation

    def complete(self, request: Any) -> Any:
        """DSPy's engine entry point."""
        from dspy.lm15 import Message as LMMessage
        from dspy.lm15 import Response, TextPart, Usage

        generation = self.generate(self.request_for(request))
        finish = generation.finish_reason if generation.finish_reason == "length" else "stop"
        # DSPy refuses an empty completion before the adapter sees it; the adapter reads
        # the real (empty) text from the call record instead.
        text = generation.text or " "
        return Response(
            id=None,
            model=generation.model or self.spec.display,
            message=LMMessage.assistant([TextPart(text)]),
            finish_reason=finish,
            usage=Usage(
                input_tokens=generation.prompt_tokens, output_tokens=generation.completion_tokens
            ),
        )

    def stream(self, request: Any) -> Any:
        """DSPy's streaming entry point: the whole response as one event sequence."""
        from dspy.lm15 import response_to_events

        return response_to_events(self.complete(request))

    def close(self) -> None:
        """Nothing to release: the bridge owns the providers."""
