"""What a loaded suite is: its prompt's variants, its resolved cases, its models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.models import GenerationParams, ModelSpec
from promptsuite.stats import Reducer


@dataclass(frozen=True)
class Variant:
    """A prompt variant, as ordered ``(role, template)`` pairs."""

    name: str
    templates: tuple[tuple[str, str], ...]
    description: str | None = None


@dataclass(frozen=True)
class Prompt:
    """A loaded prompt: its variants, one of them the default."""

    name: str
    file: str | None
    variants: Mapping[str, Variant]
    default: str


@dataclass(frozen=True)
class ResolvedCase:
    """A case with the suite defaults merged in."""

    id: str
    line: int
    vars: Mapping[str, Any]
    tags: tuple[str, ...]
    expect: tuple[CheckSpec, ...]
    threshold: float | None
    repeat: int
    description: str | None = None
    reducer: Reducer = "all-pass"
    min_pass_rate: float | None = None
    reference: str | Mapping[str, Any] | None = None
    transform: str | None = None


@dataclass(frozen=True)
class Suite:
    """A loaded suite, ready to plan runs from."""

    name: str
    path: str
    description: str | None
    prompt: Prompt
    variants: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    params: GenerationParams
    cases: tuple[ResolvedCase, ...]
