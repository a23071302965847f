"""What a loaded suite is: its prompt's variants, its resolved cases, its models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.models import GenerationParams, ModelSpec
from promptsuite.stats import Reducer


@dataclass(frozen=True)
class Variant:
    """A prompt variant, as ordered ``(role, template)`` pairs, and the tools it declares."""

    name: str
    templates: tuple[tuple[str, str], ...]
    description: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    response_format: dict[str, Any] | None = None

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(str(t["function"]["name"]) for t in self.tools)


@dataclass(frozen=True)
class Turn:
    """One turn of a conversation case.

    Attributes:
        role: ``user`` (the model answers it) or ``assistant`` (a fixed reply).
        template: The message's template.
        expect: Checks of the model's answer to a user turn.
        tool_results: Canned tool results by tool name, the case's merged in.
        reference: The gold answer to a user turn (a template), if stated.
    """

    role: str
    template: str
    expect: tuple[CheckSpec, ...] = ()
    tool_results: Mapping[str, Any] = field(default_factory=dict)
    reference: str | None = None


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
    turns: tuple[Turn, ...] = ()
    response_format: dict[str, Any] | None = None

    @property
    def is_conversation(self) -> bool:
        """Whether the case is a sequence of turns rather than one reply."""
        return bool(self.turns)


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
