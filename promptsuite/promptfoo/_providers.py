"""promptfoo providers as promptsuite models.

OpenAI and every OpenAI-compatible service promptfoo names by prefix become the ``openai``
provider with that service's endpoint and key variable; ``echo`` becomes ``scripted``
(which echoes); anything else is reported and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptsuite.promptfoo._notes import Notes, Where

# prefix -> (base_url, environment variable holding the key, or None: no key needed)
_COMPATIBLE: dict[str, tuple[str, str | None]] = {
    "ollama": ("http://localhost:11434/v1", None),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "deepseek": ("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "togetherai": ("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "mistral": ("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "perplexity": ("https://api.perplexity.ai", "PERPLEXITY_API_KEY"),
    "fireworks": ("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "xai": ("https://api.x.ai/v1", "XAI_API_KEY"),
    "localai": ("http://localhost:8080/v1", None),
    "llama": ("http://localhost:8080/v1", None),
    "llamafile": ("http://localhost:8080/v1", None),
    "vllm": ("http://localhost:8000/v1", None),
    "lmstudio": ("http://localhost:1234/v1", None),
}
# Generation settings promptfoo keeps in a provider's config, and the suite default each is.
_PARAMS = {"temperature": "temperature", "max_tokens": "max_tokens", "seed": "seed"}
_PARAMS["maxTokens"] = "max_tokens"
# Config keys that are about the connection, handled here.
_CONNECTION = {"apiBaseUrl", "apiHost", "apiKeyEnvar", "apiKey", "basePath"}
# Endpoint kinds promptfoo names after the provider (openai:chat:gpt-4o).
_KINDS = {"chat", "completion", "responses"}


@dataclass(frozen=True)
class Converted:
    """One provider as a promptsuite model, and the generation settings it carried."""

    model: str | dict[str, Any]
    params: dict[str, Any]


def convert_provider(raw: Any, where: Where, notes: Notes) -> Converted | None:
    """A promptfoo provider (``openai:gpt-4o-mini`` or ``{id, label, config}``) as a model
    reference; None (with a note) when promptsuite has no such provider."""
    if isinstance(raw, str):
        raw = {"id": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        notes.add(where, "a provider needs an id such as openai:gpt-4o-mini; left out")
        return None
    ident: str = raw["id"]
    config = raw.get("config") or {}
    if not isinstance(config, dict):
        config = {}
    prefix, _, rest = ident.partition(":")
    parts = rest.split(":")
    if parts and parts[0] in _KINDS:
        if parts[0] != "chat":
            notes.add(where, f"{ident}: promptsuite uses the chat endpoint; mapped to it")
        parts = parts[1:]
    model_name = ":".join(parts)
    options: dict[str, Any] = {}
    if prefix == "openai":
        base = _endpoint(config, where, notes)
        if base:
            options["base_url"] = base
    elif prefix in _COMPATIBLE:
        base_url, key_env = _COMPATIBLE[prefix]
        options["base_url"] = _endpoint(config, where, notes) or base_url
        if key_env:
            options["api_key_env"] = key_env
        notes.add(where, f"{ident}: mapped to the openai provider at {options['base_url']}")
    elif prefix == "echo":
        return Converted(_labelled({"provider": "scripted"}, raw), {})
    else:
        notes.add(
            where,
            f"provider {ident!r} has no promptsuite equivalent (supported: openai, OpenAI-"
            f"compatible servers such as {', '.join(sorted(_COMPATIBLE)[:4])}..., echo); left out",
        )
        return None
    if not model_name:
        notes.add(where, f"provider {ident!r} names no model; left out")
        return None
    if config.get("apiKeyEnvar"):
        options["api_key_env"] = str(config["apiKeyEnvar"])
    if config.get("apiKey"):
        notes.add(where, "apiKey: keys are never written to suites; set api_key_env instead")
    params = {_PARAMS[k]: v for k, v in config.items() if k in _PARAMS}
    for key in sorted(set(config) - set(_PARAMS) - _CONNECTION):
        notes.add((*where, "config", key), f"provider setting {key!r} is not carried over")
    if not options and "label" not in raw:
        return Converted(f"openai:{model_name}", params)
    return Converted(_labelled({"provider": "openai", "model": model_name, **options}, raw), params)


def _endpoint(config: dict[str, Any], where: Where, notes: Notes) -> str | None:
    """The endpoint as promptfoo's OpenAI provider builds it: ``apiHost`` (a host name) as
    ``https://HOST/v1``, before ``apiBaseUrl`` (a URL, taken as written); None for neither."""
    host = str(config.get("apiHost") or "").strip().rstrip("/")
    base = str(config.get("apiBaseUrl") or "").strip()
    if host and base:
        notes.add(
            (*where, "config", "apiBaseUrl"),
            f"not used: promptfoo prefers apiHost when both are set (https://{host}/v1)",
        )
    if host and "://" in host:
        # promptfoo would request https://http://... ; the URL meant is the one written.
        notes.add(
            (*where, "config", "apiHost"),
            f"apiHost is a host name, not a URL; {host}/v1 used (promptfoo would prefix "
            "https:// and fail)",
        )
        return f"{host}/v1"
    if host:
        return f"https://{host}/v1"
    if base:
        return base if "://" in base else f"https://{base}"
    return None


def _labelled(model: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    label = raw.get("label")
    if isinstance(label, str) and label.strip():
        model["label"] = "".join(c if c.isalnum() or c in "-_." else "-" for c in label.strip())
    return model


def grader_ref(raw: Any, where: Where, notes: Notes) -> str | dict[str, Any] | None:
    """A grading or embedding provider (``provider:`` on an assertion or in options)."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) is False and raw:
        # {text: ..., embedding: ...}: promptfoo's per-purpose graders; take the text one.
        raw = raw.get("text") or raw.get("embedding")
    if isinstance(raw, str) and raw.startswith("openai:embedding:"):
        return {"provider": "openai", "model": "gpt-4o-mini",
                "embedding_model": raw.split(":", 2)[2]}  # fmt: skip
    converted = convert_provider(raw, where, notes) if raw is not None else None
    return converted.model if converted else None
