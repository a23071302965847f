"""The DSPy adapter of the search: the suite's own prompt format for the task.

For the task signature, ``format`` renders the candidate as a variant of the user's prompt
(system instruction replaced by the candidate's, demos as extra few-shot turns in the
user's template, the case vars in the user's message) and ``parse`` takes the raw reply as
the output, so the search scores what the runner will run. Every other signature (the
optimizers' own proposers) goes through DSPy's ChatAdapter unchanged. With
``style="chat"`` the task is formatted by ChatAdapter too (``[[ ## field ## ]]``), for
comparison. Imports DSPy: load it lazily.
"""

from __future__ import annotations

from typing import Any

from dspy.adapters.chat_adapter import ChatAdapter

from promptsuite.optimize._records import Demo
from promptsuite.optimize._shape import candidate_templates
from promptsuite.optimize.search import _calls
from promptsuite.optimize.search._program import RECORD_FIELD, TaskSpec
from promptsuite.template import render_messages

__all__ = ["STYLES", "RecordingAdapter"]

STYLES = ("suite", "chat")


class RecordingAdapter(ChatAdapter):  # type: ignore[misc]
    """Formats task calls in the suite's format (or DSPy's) and records each call.

    Args:
        task: The suite's program.
        style: ``suite`` (the user's template) or ``chat`` (DSPy's ChatAdapter format).
    """

    def __init__(self, task: TaskSpec, style: str = "suite") -> None:
        super().__init__()
        self.task = task
        self.style = style

    def is_task(self, signature: Any) -> bool:
        """Whether a signature is the suite's task (not one of an optimizer's own)."""
        return tuple(signature.output_fields) == (self.task.output_field,) and set(
            signature.input_fields
        ) == set(self.task.input_fields)

    def demos_of(self, demos: list[Any]) -> list[Demo]:
        """The demos DSPy passes, as records (demos without an output are not shown)."""
        records = []
        for demo in demos:
            output = demo.get(self.task.output_field)
            if output is None:
                continue
            values = {name: demo[name] for name in self.task.input_fields if name in demo}
            records.append(Demo(vars=values, output=str(output)))
        return records

    def format(self, signature: Any, demos: list[Any], inputs: dict[str, Any]) -> Any:
        if not self.is_task(signature):
            return super().format(signature, demos, inputs)
        instruction = self.task.instruction(signature.instructions)
        records = self.demos_of(demos)
        _calls.begin(_calls.CandidateKey.of(instruction, records))
        if self.style == "chat":
            return super().format(signature, demos, inputs)
        templates = candidate_templates(self.task.shape, instruction, records)
        values = {name: inputs[name] for name in self.task.input_fields if name in inputs}
        return [message.to_dict() for message in render_messages(templates, values)]

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        if not self.is_task(signature):
            parsed: dict[str, Any] = super().parse(signature, completion)
            return parsed
        record = _calls.current()
        if self.style == "chat":
            values: dict[str, Any] = super().parse(signature, completion)
        else:
            reply = record.generation.text if record and record.generation else completion
            values = {self.task.output_field: reply}
        values[RECORD_FIELD] = record
        return values
