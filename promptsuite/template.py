"""Prompt rendering: Jinja2 in its sandbox, strict about undefined variables."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptsuite.errors import TemplateError
from promptsuite.models._base import Message

_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)


@lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def check_syntax(source: str) -> str | None:
    """Return a description of a syntax error in ``source``, or None when it parses."""
    try:
        _compile(source)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error on template line {exc.lineno}: {exc.message}"
    return None


def render(source: str, variables: Mapping[str, Any], *, what: str = "template") -> str:
    """Render one template.

    Raises:
        TemplateError: on a syntax error, an undefined variable or a sandbox violation.
    """
    try:
        return _compile(source).render(variables)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{what}: {exc.message}; define it in the case's vars") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"{what}: unsafe template operation refused ({exc})") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{what}: syntax error on line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # a filter or test raising on the user's data
        raise TemplateError(f"{what}: {type(exc).__name__}: {exc}") from None


def render_messages(
    templates: tuple[tuple[str, str], ...], variables: Mapping[str, Any]
) -> tuple[Message, ...]:
    """Render ``(role, template)`` pairs into chat messages."""
    return tuple(
        Message(role, render(text, variables, what=f"{role} message #{i + 1}"))
        for i, (role, text) in enumerate(templates)
    )
