"""Which candidate prompt produced a task-model call, and what came back.

The adapter opens a :class:`CallRecord` when it formats a task prompt; the engine, called
on the same thread by DSPy, attaches the generation; the adapter's ``parse`` hands the
record on inside the prediction, where the metric finds it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptsuite.models import Generation, Message
from promptsuite.optimize._records import Demo

__all__ = ["CallRecord", "CandidateKey", "attach", "begin", "current"]


@dataclass(frozen=True)
class CandidateKey:
    """A candidate prompt's identity: its instruction and demos (vars as canonical JSON)."""

    instruction: str
    demos: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, instruction: str, demos: Sequence[Demo]) -> CandidateKey:
        return cls(
            instruction,
            tuple(
                (json.dumps(d.vars, sort_keys=True, ensure_ascii=False, default=str), d.output)
                for d in demos
            ),
        )

    def demo_records(self) -> list[Demo]:
        return [Demo(vars=json.loads(vars_json), output=output) for vars_json, output in self.demos]


@dataclass
class CallRecord:
    """One task-model call: the candidate that made it and, once answered, the reply."""

    key: CandidateKey
    messages: tuple[Message, ...] = ()
    generation: Generation | None = None

    def __deepcopy__(self, memo: Mapping[int, Any]) -> CallRecord:
        # Predictions are copied into demos and traces by optimizers; the record is
        # read-only evidence, shared rather than duplicated.
        return self


_local = threading.local()


def begin(key: CandidateKey) -> CallRecord:
    """Open the record of the task call this thread is about to make."""
    record = CallRecord(key)
    _local.record = record
    return record


def current() -> CallRecord | None:
    """The record this thread opened last, if any."""
    record: CallRecord | None = getattr(_local, "record", None)
    return record


def attach(messages: tuple[Message, ...], generation: Generation) -> None:
    """Attach a task-model reply to this thread's open record."""
    record = current()
    if record is not None:
        record.messages = messages
        record.generation = generation
