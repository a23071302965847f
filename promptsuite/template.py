"""Prompt rendering: Jinja2 in its sandbox, strict about undefined variables."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptsuite.errors import TemplateError
from promptsuite.models import Message

#: Largest string, list or number a template may build with ``*`` or ``**``: enough for any
#: prompt, and far from what would exhaust memory (``{{ 'a' * 10**10 }}``).
MAX_BUILT_SIZE = 1_000_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus a cap on what ``*`` and ``**`` may build, and no
    subscription of classes.

    Subscribing a class builds a typing alias (``dict['x']`` is ``dict[x]``) instead of
    looking anything up, so ``{{ dict.foo }}`` rendered the text ``dict['foo']`` (Jinja2
    falls back from a missing attribute to an item). Here a missing attribute or item of a
    class is undefined: an error naming it, as for any other value.
    """

    intercepted_binops = frozenset({"*", "**"})

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, type):
            return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, type) and not hasattr(obj, attribute):
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        numbers = _is_number(left) and _is_number(right)
        if operator == "**" and numbers and abs(right) > 64 and abs(left) > 1:
            raise jinja2.exceptions.SecurityError(
                f"power too large ({left!r} ** {right!r}); the limit is an exponent of 64"
            )
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_BUILT_SIZE:
                    raise jinja2.exceptions.SecurityError(
                        f"repetition too large ({len(seq)} x {times}); the limit is "
                        f"{MAX_BUILT_SIZE:,} items"
                    )
        return super().call_binop(context, operator, left, right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ENV = _BoundedSandbox(
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
