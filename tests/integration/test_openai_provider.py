"""The openai provider, driven through the real ``openai`` client against a local stub."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from promptsuite.errors import (
    BadResponse,
    ConfigError,
    MissingDependency,
    ModelError,
    ModelTimeout,
    RateLimited,
    TransportError,
)
from promptsuite.models import GenerateRequest, Generation, GenerationParams, Message, ModelSpec
from promptsuite.models.openai.provider import OpenAIProvider, _parse_retry_after

# The stub lives beside the tests, not in the package; make ``tests.stub_server`` importable
# however pytest was started.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.stub_server import (  # noqa: E402
    Action,
    CloseMidBody,
    EmptyChoices,
    Hang,
    InvalidJson,
    NullContent,
    SlowDrip,
    Status,
    StubServer,
    sequence,
)

SECRET = "sk-promptsuite-sentinel-7f3a9c"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


def make_provider(base_url: str, **options: Any) -> OpenAIProvider:
    merged = {"base_url": base_url, "backoff_base": 0.01, "backoff_max": 0.05, **options}
    return OpenAIProvider(ModelSpec("openai", "stub-model", options=tuple(sorted(merged.items()))))


def make_request(text: str = "hello big world", **params: Any) -> GenerateRequest:
    return GenerateRequest((Message("user", text),), GenerationParams(**params))


def generate(provider: OpenAIProvider, request: GenerateRequest | None = None) -> Generation:
    async def run() -> Generation:
        try:
            return await provider.generate(request or make_request())
        finally:
            await provider.aclose()

    return asyncio.run(run())


def generate_error(provider: OpenAIProvider, expected: type[ModelError]) -> ModelError:
    with pytest.raises(expected) as info:
        generate(provider)
    message = str(info.value)
    assert "\n" not in message
    assert SECRET not in message and SECRET not in repr(info.value)
    return info.value


def always(action: Action) -> Any:
    return lambda index, body: action


def test_echo_reply_with_usage_and_request_shape(stub: StubServer) -> None:
    generation = generate(make_provider(stub.base_url))

    assert generation.text == "hello big world"
    assert (generation.prompt_tokens, generation.completion_tokens) == (3, 3)
    assert generation.finish_reason == "stop"
    assert generation.model == "stub-model"
    assert generation.latency_s > 0
    assert not generation.cached
    (seen,) = stub.received()
    assert seen.body == {
        "model": "stub-model",
        "messages": [{"role": "user", "content": "hello big world"}],
        "temperature": 0.0,
        "max_tokens": 256,
    }
    assert seen.headers["authorization"] == f"Bearer {SECRET}"


def test_repeats_offset_a_given_seed_and_send_none_otherwise(stub: StubServer) -> None:
    provider = make_provider(stub.base_url)
    generate(provider, replace(make_request(seed=7), repeat=2))
    generate(provider, replace(make_request(temperature=0.7), repeat=2))
    first, second = (r.body for r in stub.received())
    assert first["seed"] == 9
    assert "seed" not in second


def test_seed_stop_schema_and_extra_body_are_sent(stub: StubServer) -> None:
    schema = {"type": "object", "properties": {"score": {"type": "number"}}}
    provider = make_provider(stub.base_url, extra_body={"top_k": 5})

    generate(provider, make_request(seed=7, stop=("END",), json_schema=schema, max_tokens=9))

    body = stub.received()[0].body
    assert body["seed"] == 7
    assert body["stop"] == ["END"]
    assert body["max_tokens"] == 9
    assert body["top_k"] == 5
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "grade", "schema": schema, "strict": True},
    }


def test_429_waits_for_retry_after_then_succeeds(stub: StubServer) -> None:
    stub.behavior = sequence(Status(429, retry_after="0.4"))

    started = time.perf_counter()
    generation = generate(make_provider(stub.base_url))

    assert time.perf_counter() - started >= 0.4
    assert generation.text == "hello big world"
    assert stub.stats().by_kind == {"status_429": 1, "reply": 1}


def test_retry_after_ms_is_preferred(stub: StubServer) -> None:
    stub.behavior = sequence(Status(429, retry_after="30", retry_after_ms="250"))

    started = time.perf_counter()
    generate(make_provider(stub.base_url))

    assert 0.25 <= time.perf_counter() - started < 5


@pytest.mark.parametrize("code", [500, 502, 503])
def test_5xx_is_retried_then_succeeds(stub: StubServer, code: int) -> None:
    stub.behavior = sequence(Status(code), Status(code))

    generation = generate(make_provider(stub.base_url))
    assert generation.text == "hello big world"
    assert stub.stats().total == 3
    assert generation.retried == 2  # the failed requests before it are the run's to count


def test_persistent_500_raises_transport_error_after_every_attempt(stub: StubServer) -> None:
    stub.behavior = always(Status(500, message="upstream exploded"))

    error = generate_error(make_provider(stub.base_url, max_retries=2), TransportError)

    assert stub.stats().total == 3
    assert error.requests == 3
    assert "HTTP 500" in str(error)
    assert "upstream exploded" in str(error)
    assert "3 attempt" in str(error)
    assert stub.base_url in str(error)


def test_persistent_429_raises_rate_limited(stub: StubServer) -> None:
    stub.behavior = always(Status(429))

    error = generate_error(make_provider(stub.base_url, max_retries=1), RateLimited)

    assert stub.stats().total == 2
    assert "HTTP 429" in str(error)


def test_hanging_server_raises_model_timeout(stub: StubServer) -> None:
    stub.behavior = always(Hang(10))

    started = time.perf_counter()
    generate_error(make_provider(stub.base_url, timeout=0.3, max_retries=1), ModelTimeout)

    assert time.perf_counter() - started < 3
    assert stub.stats().total == 2


def test_slow_drip_is_bounded_by_the_whole_attempt_timeout(stub: StubServer) -> None:
    # Every chunk arrives well within a read timeout; only a deadline on the whole attempt
    # stops it.
    stub.behavior = always(SlowDrip(chunk_delay=0.05, chunk_size=4))

    started = time.perf_counter()
    generate_error(make_provider(stub.base_url, timeout=0.3, max_retries=0), ModelTimeout)

    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("glitch", [CloseMidBody(), InvalidJson()], ids=["close", "invalid-json"])
def test_garbled_body_is_retried(stub: StubServer, glitch: Action) -> None:
    stub.behavior = sequence(glitch)

    assert generate(make_provider(stub.base_url)).text == "hello big world"
    assert stub.stats().total == 2


def test_connection_dropped_on_every_attempt_raises_transport_error(stub: StubServer) -> None:
    stub.behavior = always(CloseMidBody())

    generate_error(make_provider(stub.base_url, max_retries=1), TransportError)

    assert stub.stats().total == 2


def test_persistent_invalid_json_raises_bad_response_after_retries(stub: StubServer) -> None:
    stub.behavior = always(InvalidJson())

    error = generate_error(make_provider(stub.base_url, max_retries=1), BadResponse)

    assert "invalid JSON" in str(error)
    assert stub.stats().total == 2


@pytest.mark.parametrize(
    ("action", "phrase"),
    [(EmptyChoices(), "no choices"), (NullContent(), "no text content")],
    ids=["empty-choices", "null-content"],
)
def test_unusable_completion_is_a_bad_response_without_retry(
    stub: StubServer, action: Action, phrase: str
) -> None:
    stub.behavior = always(action)

    error = generate_error(make_provider(stub.base_url), BadResponse)

    assert phrase in str(error)
    assert stub.stats().total == 1
    # The answer was billed though it cannot be used: its tokens go with the error.
    server = stub.stats()
    assert (error.requests, error.prompt_tokens, error.completion_tokens) == (
        1,
        server.prompt_tokens,
        server.completion_tokens,
    )
    assert error.prompt_tokens > 0


@pytest.mark.parametrize("code", [400, 401, 404, 422])
def test_client_errors_are_not_retried(stub: StubServer, code: int) -> None:
    stub.behavior = always(Status(code, message="messages must not be empty"))

    error = generate_error(make_provider(stub.base_url), BadResponse)

    assert f"HTTP {code}" in str(error)
    assert "messages must not be empty" in str(error)
    assert stub.stats().total == 1


def test_api_key_never_leaks(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTSUITE_TEST_KEY", SECRET + "-custom")
    monkeypatch.delenv("OPENAI_API_KEY")
    # A careless server echoing the key back must not carry it into our error.
    stub.behavior = always(Status(401, message=f"invalid key {SECRET}-custom"))
    provider = make_provider(stub.base_url, api_key_env="PROMPTSUITE_TEST_KEY")

    error = generate_error(provider, BadResponse)

    assert "***" in str(error)
    assert stub.received()[0].headers["authorization"] == f"Bearer {SECRET}-custom"
    for text in (repr(provider), json.dumps(provider.identity()), repr(vars(provider))):
        assert SECRET not in text


def test_unreachable_endpoint_raises_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    error = generate_error(
        make_provider(f"http://127.0.0.1:{port}/v1", max_retries=1), TransportError
    )

    assert "connection failed" in str(error)
    assert "2 attempt" in str(error)


def test_in_flight_requests_stay_within_max_concurrency(stub: StubServer) -> None:
    stub.delay = 0.05
    provider = make_provider(stub.base_url, max_concurrency=3)

    async def burst() -> list[Generation]:
        try:
            requests = [make_request(f"n {i}") for i in range(12)]
            return await asyncio.gather(*(provider.generate(r) for r in requests))
        finally:
            await provider.aclose()

    generations = asyncio.run(burst())

    assert provider.max_concurrency == 3
    assert sorted(g.text for g in generations) == sorted(f"n {i}" for i in range(12))
    assert stub.stats().total == 12
    assert stub.stats().max_in_flight == 3


def test_a_new_event_loop_gets_a_new_client(stub: StubServer) -> None:
    provider = make_provider(stub.base_url)
    first_loop = asyncio.new_event_loop()
    try:
        # The first loop's client stays open: the provider must not reuse it on a new loop.
        first = first_loop.run_until_complete(provider.generate(make_request()))
        first_client = provider._client
        assert first_client is not None
        second = generate(provider)
        first_loop.run_until_complete(first_client.close())
    finally:
        first_loop.close()

    assert first.text == second.text == "hello big world"
    assert stub.stats().total == 2


def test_identity_names_the_normalized_endpoint() -> None:
    provider = make_provider("HTTP://user:pw@LocalHost:11434/v1/ ")

    assert provider.identity() == {
        "provider": "openai",
        "model": "stub-model",
        "base_url": "http://localhost:11434/v1",
    }


def test_concurrency_limit_defaults_to_16_and_zero_lifts_it() -> None:
    assert make_provider("http://127.0.0.1:1/v1").max_concurrency == 16
    assert make_provider("http://127.0.0.1:1/v1", max_concurrency=0).max_concurrency is None


def test_base_url_falls_back_to_env_then_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec("openai", "gpt-4o-mini")
    assert OpenAIProvider(spec).identity()["base_url"] == "https://api.openai.com/v1"

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1/")
    assert OpenAIProvider(spec).identity()["base_url"] == "http://127.0.0.1:8000/v1"


def test_local_endpoint_works_without_a_key(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")

    assert generate(make_provider(stub.base_url)).text == "hello big world"
    assert stub.received()[0].headers["authorization"] == "Bearer not-needed"


def test_openai_api_without_a_key_fails_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    provider = OpenAIProvider(ModelSpec("openai", "gpt-4o-mini"))

    with pytest.raises(ModelError, match="OPENAI_API_KEY is not set") as info:
        generate(provider)
    assert info.value.requests == 0  # nothing was sent, nothing to count


def test_missing_openai_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)

    with pytest.raises(MissingDependency, match="pip install openai"):
        OpenAIProvider(ModelSpec("openai", "gpt-4o-mini"))


@pytest.mark.parametrize(
    "options",
    [{"timeout": -1}, {"timeout": "fast"}, {"max_retries": "3"}, {"extra_body": [1]}],
)
def test_invalid_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        make_provider("http://127.0.0.1:1/v1", **options)


def test_retry_after_parsing() -> None:
    now = float(int(time.time()))
    assert _parse_retry_after({"retry-after": "2"}) == 2.0
    assert _parse_retry_after({"retry-after": "2", "retry-after-ms": "1500"}) == 1.5
    assert _parse_retry_after({"retry-after": formatdate(now + 10, usegmt=True)}, now) == 10
    assert _parse_retry_after({"retry-after": formatdate(now - 10, usegmt=True)}, now) == 0
    assert _parse_retry_after({"retry-after": "soon"}) is None
    assert _parse_retry_after({}) is None


def test_backoff_is_jittered_and_capped() -> None:
    provider = make_provider("http://127.0.0.1:1/v1", backoff_base=0.5, backoff_max=4)

    assert provider._backoff(1, retry_after=3600) == 60
    assert provider._backoff(1, retry_after=0.2) == 0.2
    waits = [provider._backoff(attempt, None) for attempt in range(1, 10) for _ in range(20)]
    assert all(0 <= wait <= 4 for wait in waits)
    assert all(0 <= provider._backoff(1, None) <= 0.5 for _ in range(50))


def test_stub_lists_models(stub: StubServer) -> None:
    with urllib.request.urlopen(f"{stub.base_url}/models", timeout=5) as response:
        listing = json.loads(response.read())

    assert listing["data"][0]["id"] == "stub"
    assert stub.stats().by_kind == {"models": 1}


def test_tools_and_response_format_are_sent_and_tool_calls_read_back() -> None:
    from tests.stub_server import ToolCalls

    tool = {"type": "function", "function": {"name": "lookup_order", "parameters": {}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "o", "schema": {}}}
    calls = ToolCalls((("lookup_order", '{"order_id": "A-1"}'), ("refund", "{}")))
    with StubServer(behavior=always(calls), record=True) as server:
        request = make_request(tools=(tool,), response_format=response_format)
        generation = generate(make_provider(server.base_url), request)
        (seen,) = server.received()
    assert seen.body["tools"] == [tool]
    assert seen.body["response_format"] == response_format
    assert generation.text == ""  # content null: the reply only calls tools
    assert generation.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in generation.tool_calls] == [
        ("call_0", "lookup_order", '{"order_id": "A-1"}'),
        ("call_1", "refund", "{}"),
    ]
    assert Generation.from_dict(generation.to_dict()).tool_calls == generation.tool_calls
