"""The ``openai`` provider: OpenAI or any OpenAI-compatible server (Ollama, vLLM, llama.cpp).

The ``openai`` package is imported only when the first request is made, so suites that never
use this provider never pay for it. Retries are ours, not the SDK's, so every failure maps
onto the promptsuite error tree with one line that names the status, the attempts and the
endpoint, and never the API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import importlib.util
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

from promptsuite.errors import (
    BadResponse,
    ConfigError,
    MissingDependency,
    ModelError,
    ModelTimeout,
    RateLimited,
    TransportError,
)
from promptsuite.models._base import (
    GenerateRequest,
    Generation,
    ModelSpec,
    Provider,
    token_logprobs,
    tool_calls_of,
)
from promptsuite.models.openai._client import AttemptReport, new_client, post_once
from promptsuite.models.openai._helper import call_helper
from promptsuite.models.openai._process import CallProcessGone

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIProvider"]

_Parsed = TypeVar("_Parsed")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_OPENAI_HOST = "api.openai.com"
_RETRY_AFTER_CAP_S = 60.0
_RETRYABLE_CLIENT_STATUSES = frozenset({408, 409, 429})
_MAX_ERROR_DETAIL = 300
# Shorter values are not real keys, and replacing them would garble the message.
_MIN_REDACTED_LENGTH = 8


class _RetryableFailure(Exception):
    """One attempt failed in a way worth retrying; carries what the final error needs."""

    def __init__(
        self, kind: type[ModelError], detail: str, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after


class OpenAIProvider(Provider):
    """Chat completions from OpenAI or an OpenAI-compatible endpoint.

    Options (``spec.options``):

    - ``base_url``: endpoint, e.g. ``http://localhost:11434/v1`` for Ollama. Defaults to
      ``$OPENAI_BASE_URL``, then the OpenAI API.
    - ``api_key_env``: name of the environment variable holding the key (``OPENAI_API_KEY``).
      Endpoints other than the OpenAI API work without one.
    - ``timeout``: seconds allowed for one attempt, end to end (60).
    - ``max_retries``: retries after the first attempt on 408/409/429, 5xx, timeouts,
      connection failures and garbled bodies (4).
    - ``max_concurrency``: requests this provider keeps in flight at most (16; 0: no limit).
    - ``backoff_base`` / ``backoff_max``: exponential backoff with full jitter, in seconds
      (0.5 / 20); a ``Retry-After`` header wins, capped at 60 s.
    - ``extra_body``: mapping merged into every request body (``{"top_k": 20}``).
    - ``transport``: ``auto`` (a lean HTTP/1.1 transport for ``http://`` endpoints, httpx's
      own for ``https://``) or ``httpx`` (httpx's own everywhere).
    - ``embedding_model``: the model ``similar`` checks embed with, through the
      ``/embeddings`` endpoint (``text-embedding-3-large``, promptfoo's default).

    Args:
        spec: The model as the suite names it.

    Raises:
        MissingDependency: The ``openai`` package is not installed.
        ConfigError: An option has the wrong type or range.
    """

    def __init__(self, spec: ModelSpec) -> None:
        if importlib.util.find_spec("openai") is None:
            raise MissingDependency("the openai client", "pip install openai")
        options = spec.options_dict
        self.model = spec.model
        explicit_url = options.get("base_url") or os.environ.get("OPENAI_BASE_URL")
        self.base_url = _normalize_base_url(str(explicit_url or DEFAULT_BASE_URL))
        self.api_key_env = str(options.get("api_key_env") or "OPENAI_API_KEY")
        self.timeout = _positive_float(options, "timeout", 60.0)
        self.max_retries = _non_negative_int(options, "max_retries", 4)
        self.max_concurrency = _non_negative_int(options, "max_concurrency", 16) or None
        self.backoff_base = _positive_float(options, "backoff_base", 0.5)
        self.backoff_max = _positive_float(options, "backoff_max", 20.0)
        extra_body = options.get("extra_body") or {}
        if not isinstance(extra_body, Mapping):
            raise ConfigError(f"openai option 'extra_body' must be a mapping, got {extra_body!r}")
        self.extra_body: dict[str, Any] = dict(extra_body)
        self.embedding_model = str(options.get("embedding_model") or "text-embedding-3-large")
        self.transport = _transport_option(options)
        self._key_required = urlsplit(self.base_url).hostname == _OPENAI_HOST
        self._client: openai.AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._slots: contextlib.AbstractAsyncContextManager[Any] | None = None

    def __repr__(self) -> str:
        return f"OpenAIProvider(model={self.model!r}, base_url={self.base_url!r})"

    def identity(self) -> dict[str, Any]:
        """Provider, model and endpoint; never the key."""
        return {"provider": "openai", "model": self.model, "base_url": self.base_url}

    async def generate(self, request: GenerateRequest) -> Generation:
        """Complete ``request``, retrying transient failures with backoff.

        ``latency_s`` is the wall time of the attempt that succeeded, without queueing or
        backoff.

        Raises:
            RateLimited: The endpoint answered 429 on every attempt.
            ModelTimeout: The last attempt timed out.
            TransportError: Connection failures or 5xx answers on every attempt, or (at
                once) a response body over the lean transport's cap.
            BadResponse: A 4xx answer, a completion without content, or a body that was
                not valid JSON on every attempt.
        """
        generation, retried = await self._with_retries(
            "/chat/completions", self._request_body(request), self._parse
        )
        return replace(generation, retried=retried) if retried else generation

    def embedding_identity(self) -> dict[str, Any]:
        """The embedding model and endpoint; never the key."""
        return {"provider": "openai", "model": self.embedding_model, "base_url": self.base_url}

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` through the ``/embeddings`` endpoint, with the same retries.

        Raises:
            ModelError: As :meth:`generate` raises, or the answer has no vectors for them.
        """
        body = {"model": self.embedding_model, "input": list(texts)}

        def parse(content: bytes, latency: float) -> list[list[float]]:
            return self._parse_embeddings(content, len(texts))

        vectors, _ = await self._with_retries("/embeddings", body, parse)
        return vectors

    async def _with_retries(
        self, path: str, body: dict[str, Any], parse: Callable[[bytes, float], _Parsed]
    ) -> tuple[_Parsed, int]:
        """The parsed answer, and how many failed attempts came before it.

        Raises:
            ModelError: Its ``requests`` are the attempts that were sent.
        """
        slots = self._slots_for_running_loop()
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            sent = False
            try:
                async with slots:
                    report = await self._attempt(path, body)
                    sent = report.kind != "error"
                    return self._from_report(report, parse), attempt - 1
            except _RetryableFailure as failure:
                if attempt == attempts:
                    self._raise(
                        failure.kind,
                        f"{failure.detail} after {attempts} attempt(s)",
                        requests=attempts,
                    )
                await asyncio.sleep(self._backoff(attempt, failure.retry_after))
            except ModelError as err:  # not worth retrying: this attempt is the last
                err.requests = attempt if sent else attempt - 1
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        """Close the HTTP client, if one was created on the running event loop."""
        client, self._client = self._client, None
        loop, self._client_loop = self._client_loop, None
        self._slots = None
        if client is not None and loop is asyncio.get_running_loop():
            await client.close()

    def _slots_for_running_loop(self) -> contextlib.AbstractAsyncContextManager[Any]:
        # Semaphores and httpx clients are bound to the loop that made them; a provider
        # reused from another loop (a second run in the same process) gets fresh ones.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._client_loop is not loop:
            self._client, self._client_loop = None, loop
            limit = self.max_concurrency
            self._slots = asyncio.Semaphore(limit) if limit else contextlib.nullcontext()
        return self._slots

    def _client_for_running_loop(self) -> openai.AsyncOpenAI:
        self._slots_for_running_loop()
        if self._client is None:
            self._client = new_client(
                self.base_url, self.api_key_env, self._key_required, self.timeout, self.transport
            )
        return self._client

    def _request_body(self, request: GenerateRequest) -> dict[str, Any]:
        params = request.params
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [message.to_dict() for message in request.messages],
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
        }
        if params.seed is not None:
            body["seed"] = params.seed + request.repeat
        if params.stop:
            body["stop"] = list(params.stop)
        if params.logprobs:
            body["logprobs"] = True
        if params.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "grade", "schema": params.json_schema, "strict": True},
            }
        elif params.response_format is not None:
            body["response_format"] = params.response_format
        if params.tools:
            body["tools"] = list(params.tools)
        body.update(self.extra_body)
        return body

    async def _attempt(self, path: str, body: dict[str, Any]) -> AttemptReport:
        """One attempt: in the model-call process when one runs, else in this one."""
        helper = await call_helper.ready()
        if helper is None:
            client = self._client_for_running_loop()
            return await post_once(client, self.timeout, path, body)
        try:
            return await helper.post(
                base_url=self.base_url,
                api_key_env=self.api_key_env,
                api_key=os.environ.get(self.api_key_env, ""),
                key_required=self._key_required,
                timeout=self.timeout,
                transport=self.transport,
                path=path,
                body=body,
            )
        except CallProcessGone as gone:
            raise _RetryableFailure(TransportError, str(gone)) from None

    def _from_report(
        self, report: AttemptReport, parse: Callable[[bytes, float], _Parsed]
    ) -> _Parsed:
        """The parsed answer, or the error an attempt's report means."""
        if report.kind == "ok":
            return parse(report.content, report.latency_s)
        if report.kind == "timeout":
            raise _RetryableFailure(ModelTimeout, f"no answer within {self.timeout:g}s")
        if report.kind == "connection":
            raise _RetryableFailure(TransportError, f"connection failed ({report.detail})")
        if report.kind == "too_large":
            # The same answer again would be as large: no retry.
            self._raise(TransportError, f"response refused: {report.detail}")
        if report.kind == "status":
            self._classify_status(report.status, report.headers or {}, report.body)
        # A promptsuite error in the helper (no key set): its one-line message, as raised here.
        raise ModelError(report.detail)

    def _classify_status(self, status: int, headers: Mapping[str, str], body: object) -> NoReturn:
        detail = f"HTTP {status}: {_server_message(body)}"
        if status == 429:
            raise _RetryableFailure(RateLimited, detail, _parse_retry_after(headers))
        if status >= 500 or status in _RETRYABLE_CLIENT_STATUSES:
            kind: type[ModelError] = ModelTimeout if status == 408 else TransportError
            raise _RetryableFailure(kind, detail, _parse_retry_after(headers))
        self._raise(BadResponse, detail)

    def _json_body(self, content: bytes) -> dict[str, Any]:
        try:
            data = json.loads(content)
        except ValueError:
            # A body cut short or garbled in transit; the next attempt will likely be whole.
            raise _RetryableFailure(
                BadResponse, f"invalid JSON body ({len(content)} bytes)"
            ) from None
        if not isinstance(data, dict):
            raise _RetryableFailure(BadResponse, "JSON body is not an object")
        return data

    def _parse_embeddings(self, content: bytes, count: int) -> list[list[float]]:
        data = self._json_body(content).get("data")
        items = data if isinstance(data, list) else []
        vectors: dict[int, list[float]] = {}
        for position, item in enumerate(items):
            vector = item.get("embedding") if isinstance(item, dict) else None
            if isinstance(vector, list) and all(isinstance(x, int | float) for x in vector):
                index = item.get("index", position)
                vectors[index if isinstance(index, int) else position] = [float(x) for x in vector]
        if sorted(vectors) != list(range(count)):
            self._raise(BadResponse, f"the embeddings answer has {len(vectors)} of {count} vectors")
        return [vectors[i] for i in range(count)]

    def _parse(self, content: bytes, latency: float) -> Generation:
        data = self._json_body(content)
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        # An answer we cannot use may still be billed: its tokens go with the error.
        tokens = {
            "prompt_tokens": _as_int(usage.get("prompt_tokens")),
            "completion_tokens": _as_int(usage.get("completion_tokens")),
        }
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            self._raise(BadResponse, "the completion has no choices", **tokens)
        choice = choices[0]
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
        calls = tool_calls_of(message.get("tool_calls")) if isinstance(message, dict) else ()
        if text is None and calls:  # a reply that only calls tools has no content
            text = ""
        if not isinstance(text, str):
            refusal = message.get("refusal") if isinstance(message, dict) else None
            why = f" (refusal: {refusal})" if refusal else ""
            self._raise(BadResponse, f"the completion has no text content{why}", **tokens)
        finish_reason = choice.get("finish_reason")
        return Generation(
            logprobs=token_logprobs(choice.get("logprobs")),
            text=text,
            prompt_tokens=tokens["prompt_tokens"],
            completion_tokens=tokens["completion_tokens"],
            latency_s=latency,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            model=str(data.get("model") or self.model),
            tool_calls=calls,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), _RETRY_AFTER_CAP_S)
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(0.0, ceiling)

    def _raise(
        self,
        kind: type[ModelError],
        detail: str,
        *,
        requests: int = 0,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> NoReturn:
        message = f"openai model {self.model!r} at {self.base_url}: {detail}"
        raise kind(
            self._redact(" ".join(message.split())),
            requests=requests,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    def _redact(self, text: str) -> str:
        # A misbehaving server may echo the Authorization header back in its error body. The
        # key is looked up again rather than kept, so no attribute of ours ever holds it.
        key = os.environ.get(self.api_key_env, "").strip()
        return text.replace(key, "***") if len(key) >= _MIN_REDACTED_LENGTH else text


def _normalize_base_url(url: str) -> str:
    """Strip whitespace, a trailing slash and any credentials embedded in the URL."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.rpartition("@")[2]
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), netloc.lower(), path, parts.query, ""))


def _parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, then ``Retry-After``.

    ``Retry-After`` may be a number of seconds or an HTTP date. Returns None when neither
    header is present or parseable.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def _server_message(body: object) -> str:
    message = body.get("message", body) if isinstance(body, dict) else body
    text = message if isinstance(message, str) else json.dumps(message, default=str)
    text = " ".join(text.split()) or "(empty body)"
    if len(text) > _MAX_ERROR_DETAIL:
        text = text[: _MAX_ERROR_DETAIL - 3] + "..."
    return text


def _as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _transport_option(options: Mapping[str, Any]) -> str:
    value = options.get("transport", "auto")
    if value not in ("auto", "httpx"):
        raise ConfigError(f"openai option 'transport' must be 'auto' or 'httpx', got {value!r}")
    return str(value)


def _positive_float(options: Mapping[str, Any], name: str, default: float) -> float:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"openai option {name!r} must be a positive number, got {value!r}")
    return float(value)


def _non_negative_int(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"openai option {name!r} must be a whole number >= 0, got {value!r}")
    return value
