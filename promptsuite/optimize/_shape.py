"""A prompt variant taken apart into what the search may change and what it keeps.

A variant is read as ``[system] + fixed turns + user``: the system message is the
*instruction* (a candidate replaces it), the turns in between (the user's own few-shot
examples) stay as written, and the last user message is the *case template*. A candidate's
demos become extra example turns after the fixed ones, the user message rendered with the
demo's vars and the demo's output as the reply. :func:`candidate_templates` builds the
candidate as an ordinary variant, so the search renders exactly what the runner will run
once the variant is written back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from promptsuite.errors import ConfigError
from promptsuite.optimize._records import Demo
from promptsuite.suite import Variant
from promptsuite.template import check_syntax, render

__all__ = ["PromptShape", "Templates", "candidate_templates", "literal", "shape_of"]

Templates = tuple[tuple[str, str], ...]

_JINJA_MARKERS = ("{{", "{%", "{#")
# What ends a raw block, kept (as the odd pieces of a split) to be emitted as a string.
_ENDRAW = re.compile(r"(\{%[-+]?\s*endraw\s*[-+]?%\})")


@dataclass(frozen=True)
class PromptShape:
    """The parts of the variant a search starts from.

    Attributes:
        variant: Name of the variant.
        instruction: Its system message template ("" when it has none).
        fixed: The turns between the system message and the last user message.
        case_template: The last user message template.
    """

    variant: str
    instruction: str
    fixed: Templates
    case_template: str


def shape_of(variant: Variant, *, where: str) -> PromptShape:
    """Take a variant apart.

    Raises:
        ConfigError: the variant does not end with a user message (nothing case-specific
            for the search to fill in).
    """
    templates = variant.templates
    if not templates or templates[-1][0] != "user":
        raise ConfigError(
            f"{where}: variant {variant.name!r} must end with the user message that holds the "
            "case's vars; the optimizer fills that message with each case"
        )
    instruction = ""
    body = templates
    if templates[0][0] == "system":
        instruction, body = templates[0][1], templates[1:]
    return PromptShape(variant.name, instruction, tuple(body[:-1]), body[-1][1])


def literal(text: str) -> str:
    """A template that renders to ``text`` exactly (Jinja markers are protected)."""
    body = text
    if any(marker in text for marker in _JINJA_MARKERS):
        pieces = _ENDRAW.split(text)
        body = "".join(
            "{% raw %}" + piece + "{% endraw %}" if index % 2 == 0 else "{{ " + repr(piece) + " }}"
            for index, piece in enumerate(pieces)
        )
    # Rendering drops one trailing newline of the template (keep_trailing_newline is off).
    return body + "\n" if text.endswith("\n") else body


def _instruction_template(instruction: str) -> str:
    # The user's instruction is a template (it may use the case's vars); a proposed one
    # that is not valid Jinja is kept as plain text rather than failing every case.
    return instruction if check_syntax(instruction) is None else literal(instruction)


def candidate_templates(shape: PromptShape, instruction: str, demos: Sequence[Demo]) -> Templates:
    """The variant a candidate is: instruction, fixed turns, demo turns, case template.

    Raises:
        TemplateError: a demo's vars do not render the case template.
    """
    parts: list[tuple[str, str]] = []
    if instruction:
        parts.append(("system", _instruction_template(instruction)))
    parts.extend(shape.fixed)
    for number, demo in enumerate(demos, start=1):
        shown = render(shape.case_template, demo.vars, what=f"demo #{number} user message")
        parts.append(("user", literal(shown)))
        parts.append(("assistant", literal(demo.output)))
    parts.append(("user", shape.case_template))
    return tuple(parts)
