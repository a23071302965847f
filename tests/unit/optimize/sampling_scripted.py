"""A scripted model for the sampling stage's tests: open-ended replies whose passing depends on
the case, the temperature and the sample.

A case id says how the model does on it: ``always-*`` passes every time; ``sometimes-*``
passes on odd samples at a temperature above 0 (never at temperature 0); ``long-*`` passes
only once trimmed to its first sentence; ``never-*`` never passes. The suite's checks (see
:data:`SUITE`) want a short reply that says "thanks". The teacher passes every case.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Every (case, temperature, repeat) the task model was asked, in order.
ASKED: list[tuple[str, float | None, int]] = []

SUITE = """\
name: open
prompt: prompt.yaml
models: [{model}]
defaults:
  temperature: 0
  expect:
    - {{type: icontains, value: thanks, metric: polite}}
    - {{type: word-count, max: 6, metric: short}}
cases:
{cases}
"""

PROMPT = """\
name: open
system: "Reply to the customer."
user: "Message: {{ message }}"
"""

#: The task model and the teacher, as model specs.
TASK = {
    "provider": "scripted",
    "model": "task",
    "script": "tests.unit.optimize.sampling_scripted:reply",
}
TEACHER = {
    "provider": "scripted",
    "model": "teacher",
    "script": "tests.unit.optimize.sampling_scripted:teach",
}


def suite_text(counts: dict[str, int]) -> str:
    """A suite with ``counts[kind]`` cases of each kind, tagged with their kind."""
    cases = "".join(
        f"  - id: {kind}-{i}\n    tags: [{kind}]\n    vars: {{message: '{kind}-{i}'}}\n"
        for kind, n in counts.items()
        for i in range(n)
    )
    return SUITE.format(model=json.dumps(TASK), cases=cases)


def _case(messages: list[dict[str, str]]) -> str:
    found = re.search(r"Message: (\S+)", messages[-1]["content"])
    return found.group(1) if found else ""


def reply(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    case = _case(messages)
    temperature = params.get("temperature")
    repeat = int(params["repeat"])
    ASKED.append((case, temperature, repeat))
    kind = case.split("-")[0]
    warm = bool(temperature)
    if kind == "always" or (kind == "sometimes" and warm and repeat % 2 == 1):
        return f"Many thanks, sample {repeat}."
    if kind == "sometimes":
        return "We are looking into your message and will get back to you soon."
    if kind == "long":  # passes once trimmed to its first sentence
        return "Thanks for writing. We are looking into your message right now, be patient."
    return "No."


def teach(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    return "Thanks, the teacher says."
