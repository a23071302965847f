"""A scripted model for the optimizer's tests: deterministic scores that depend on the prompt.

Task calls (the last user message is ``Q: <case>``) are answered with the case's label when
the case is easy, when the prompt shows a demo (``hard`` cases), or when the
instruction says ``label only`` (``stubborn`` cases); otherwise with a wrong word. Calls of
the optimizers' own proposers get a reply filling every output field the system message
asks for (ChatAdapter-style, or JSON when asked for JSON), with a numbered instruction
that says ``label only``.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Every message list the script was sent, in order.
CALLS: list[list[dict[str, str]]] = []

_FIELD = re.compile(r"^\d+\. `(\w+)`", re.MULTILINE)


def answer(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    CALLS.append(messages)
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    last = messages[-1]["content"]
    task = re.search(r"\[\[ ## q ## \]\]\n(\S+)", last)
    if task:  # DSPy's ChatAdapter format for the task
        label = _label(task.group(1), messages, system)
        return f"[[ ## output ## ]]\n{label}\n\n[[ ## completed ## ]]"
    if "Your output fields are" in system or "```" in last:
        return _proposal(system, last)
    return _label(last.removeprefix("Q: "), messages, system)


def _label(case: str, messages: list[dict[str, str]], system: str) -> str:
    kind, _, label = case.partition("-")
    demos = sum(1 for m in messages[:-1] if m["role"] == "user" and m["content"].startswith("Q: "))
    right = (
        kind == "easy"
        or (kind == "hard" and demos >= 1)
        or (kind == "stubborn" and "label only" in system)
    )
    return label if right else "unsure"


def _proposal(system: str, last: str) -> str:
    number = len(CALLS)
    instruction = f"Answer with the label only (proposal {number})."
    if "```" in last and "Your output fields are" not in system:
        return f"```\n{instruction}\n```"
    outputs = system.split("Your output fields are", 1)[1].split("All interactions", 1)[0]
    fields = _FIELD.findall(outputs) or ["proposed_instruction"]
    if "JSON" in system:
        return json.dumps(dict.fromkeys(fields, instruction))
    parts = [f"[[ ## {name} ## ]]\n{instruction}" for name in fields]
    return "\n\n".join([*parts, "[[ ## completed ## ]]"])


def answer_in_prose(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """Like :func:`answer`, but proposals come back as prose no adapter can parse."""
    reply = answer(messages, params)
    return "I think you should try harder." if "proposal" in reply else reply


# --- a suite the script answers -------------------------------------------------------------

KINDS = {"easy": 6, "hard": 3, "stubborn": 3}
SCRIPT = {
    "provider": "scripted",
    "model": "s",
    "script": "tests.unit.optimize.optimize_scripted:answer",
}


def suite_text(kinds: dict[str, int] = KINDS) -> str:
    """The suite, with ``kinds[kind]`` cases of each kind."""
    cases = []
    for kind, count in kinds.items():
        for number in range(1, count + 1):
            label = f"label{number}"
            cases.append(
                f"  - id: {kind}-{number}\n"
                f"    tags: [{kind}]\n"
                f"    vars: {{q: {kind}-{label}}}\n"
                f"    expect: [{{type: equals, value: {label}}}]\n"
            )
    return (
        "name: scripted\n"
        "prompt: prompt.yaml\n"
        "defaults: {max_tokens: 8, tags: [all]}\n"
        "cases:\n" + "".join(cases)
    )


PROMPT = """\
# The user's prompt: a comment that must survive write-back.
name: scripted
system: Classify the case.
user: "Q: {{ q }}"
"""
