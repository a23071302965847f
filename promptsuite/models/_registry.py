"""Lazy provider registry: a provider's module is imported only when a suite uses it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promptsuite._imports import load_reference
from promptsuite.errors import ConfigError
from promptsuite.models._base import ModelSpec, Provider

ProviderFactory = Callable[[ModelSpec], Provider]

# name -> "module:attribute" of a factory taking a ModelSpec.
_LAZY: dict[str, str] = {
    "openai": "promptsuite.models.openai.provider:OpenAIProvider",
    "local": "promptsuite.models.local:LocalProvider",
    "replay": "promptsuite.models.replay:ReplayProvider",
    "scripted": "promptsuite.models.scripted:ScriptedProvider",
}
_LOADED: dict[str, ProviderFactory] = {}

_SPEC_KEYS = {"provider", "model", "label", "id"}


def register_provider(name: str, factory: ProviderFactory | str) -> None:
    """Register a provider factory, or a ``"module:attribute"`` path to import on first use."""
    if isinstance(factory, str):
        _LAZY[name] = factory
        _LOADED.pop(name, None)
    else:
        _LOADED[name] = factory


def provider_names() -> list[str]:
    """Every registered provider name."""
    return sorted(set(_LAZY) | set(_LOADED))


def _factory(name: str) -> ProviderFactory:
    if name in _LOADED:
        return _LOADED[name]
    if name not in _LAZY:
        known = ", ".join(provider_names())
        raise ConfigError(f"unknown model provider {name!r}; expected one of: {known}")
    factory: ProviderFactory | None = load_reference(_LAZY[name])
    if factory is None:
        raise ConfigError(f"model provider {name!r}: {_LAZY[name]} does not exist")
    _LOADED[name] = factory
    return factory


def create_provider(spec: ModelSpec) -> Provider:
    """Build the provider a spec names."""
    return _factory(spec.provider)(spec)


def parse_model_spec(value: str | Mapping[str, Any]) -> ModelSpec:
    """Read a model as written in a suite or on the command line.

    Accepted forms: ``"local"``, ``"local:/path/model.gguf"``, ``"openai:gpt-4o-mini"``, or a
    mapping ``{provider: openai, model: gpt-4o-mini, label: mini, base_url: ...}`` whose
    other keys are provider options.
    """
    if isinstance(value, str):
        provider, _, model = value.partition(":")
        if not provider:
            raise ConfigError(f"model {value!r} has no provider; expected 'provider[:model]'")
        return ModelSpec(provider=provider.strip(), model=model.strip())
    kind = value.get("provider")
    model = value.get("model", "")
    if not isinstance(kind, str) or not kind:
        raise ConfigError("a model mapping needs 'provider' (e.g. openai, local)")
    provider = kind
    if "id" in value and "label" not in value:
        label = str(value["id"])
    else:
        label = str(value.get("label", ""))
    options = tuple(sorted((k, v) for k, v in value.items() if k not in _SPEC_KEYS))
    return ModelSpec(provider=provider, model=str(model), label=label, options=options)
