"""The export stage: labelled cases as OpenAI chat fine-tuning JSONL.

Each example is the suite's own prompt template (not DSPy's), rendered with the case's vars,
followed by the case's reference answer (:mod:`promptsuite.optimize._references`: stated in
the suite, derived from the case's checks, the best passing sample of a train case, or a
verified output of the run; never invented).
Every line written is validated against the chat format before the summary is returned.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.conversation import tool_content
from promptsuite.errors import PromptsuiteError
from promptsuite.optimize._records import OptimizationRun
from promptsuite.optimize._references import reference_answers
from promptsuite.optimize.analysis import (
    OPENAI_MIN_EXAMPLES,
    RECOMMENDED_MIN_EXAMPLES,
    Analysis,
    analyze,
)
from promptsuite.suite import ResolvedCase, Suite
from promptsuite.template import render, render_messages

_ROLES = frozenset({"system", "user", "assistant", "tool"})
_MESSAGE_KEYS = frozenset({"role", "content", "name", "weight"})


@dataclass(frozen=True)
class ExportSummary:
    """What the export wrote.

    Attributes:
        train_path: The training file.
        validation_path: The validation file, or None when no validation case has a
            reference answer.
        n_train: Examples in the training file.
        n_validation: Examples in the validation file.
        stated: Examples whose answer the suite states (``reference:``).
        verified: Examples whose answer is a verified output of the run.
        derived: Examples whose answer was derived from the case's checks.
        focus_cases: Exported cases the best prompt does not reliably solve.
        focus_without_reference: Such cases left out for want of a reference answer.
        needs_reference: Train/validation cases with no reference answer -> why.
        held_out: Test-split cases kept out of the files (for evaluating the fine-tuned
            model on the same held-out cases as the prompts).
        not_rendered: Cases whose template failed to render -> the error.
        variant: The prompt variant rendered.
        lines_validated: JSONL lines checked against the chat format (every line written).
        meets_openai_minimum: The training file has at least ``OPENAI_MIN_EXAMPLES`` lines.
        collect_more: Labelled cases still missing to reach ``RECOMMENDED_MIN_EXAMPLES``.
        sampled: Examples whose answer is the task model's best passing sample (rejection
            sampling).
        teacher: Examples whose answer is a teacher model's passing sample.
        labelled: Examples whose answer a person labelled passing.
    """

    train_path: str
    validation_path: str | None
    n_train: int
    n_validation: int
    stated: int
    verified: int
    derived: int
    focus_cases: tuple[str, ...]
    focus_without_reference: tuple[str, ...]
    needs_reference: dict[str, str]
    held_out: int
    not_rendered: dict[str, str]
    variant: str
    lines_validated: int
    meets_openai_minimum: bool
    collect_more: int
    sampled: int = 0
    teacher: int = 0
    labelled: int = 0


# ---------------------------------------------------------------- the export


def export_finetune(
    run: OptimizationRun,
    suite: Suite,
    out_dir: str | Path,
    *,
    analysis: Analysis | None = None,
    variant: str | None = None,
    prefix: str = "finetune",
    seed: int = 0,
) -> ExportSummary:
    """Write the training and validation files for OpenAI chat fine-tuning.

    Train-split cases go to the training file and validation-split cases to the validation
    file (the optimization's own split); test-split cases are held out, so the fine-tuned
    model can be judged on the same unseen cases as the prompts. Cases the best prompt does
    not reliably solve (the focus) come first in each file; every other case with a reference
    answer follows, so the model keeps what prompting already got right.

    Args:
        run: The optimization run.
        suite: The suite the run optimized (its cases, checks and template).
        out_dir: Folder for ``{prefix}_train.jsonl`` and ``{prefix}_validation.jsonl``.
        analysis: The run's analysis (for the focus cases); computed when not given.
        variant: Prompt variant to render; the suite prompt's default when None.
        prefix: File name prefix.
        seed: Seed of the order of the examples within each group.

    Returns:
        What was written.

    Raises:
        PromptsuiteError: If the variant is unknown or a written line fails validation.
    """
    if analysis is None:
        analysis = analyze(run, suite=suite)
    name = variant or suite.prompt.default
    if name not in suite.prompt.variants:
        known = ", ".join(suite.prompt.variants)
        raise PromptsuiteError(f"prompt variant {name!r} is not in {suite.path}; known: {known}")
    templates = suite.prompt.variants[name].templates
    references, missing = reference_answers(run, suite)
    focus_ids = {c.case_id for c in analysis.cases if c.status != "solved"}
    groups: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
        "train": ([], []),
        "val": ([], []),
    }
    focus: list[str] = []
    focus_missing: list[str] = []
    not_rendered: dict[str, str] = {}
    needs: dict[str, str] = {}
    held_out = 0
    sources: Counter[str] = Counter()
    for case in suite.cases:
        split = run.split.get(case.id, "train")
        if split == "test":
            held_out += 1
            continue
        if case.is_conversation:
            try:
                chat, why = _conversation_chat(templates, case)
                tools = suite.prompt.variants[name].tools
            except PromptsuiteError as exc:
                not_rendered[case.id] = str(exc)
                continue
            if chat is None:
                needs[case.id] = why
                if case.id in focus_ids:
                    focus_missing.append(case.id)
                continue
            in_focus = case.id in focus_ids
            row: dict[str, Any] = {"messages": chat}
            if tools and any("tool_calls" in m for m in chat):
                row["tools"] = [dict(t) for t in tools]
            groups["val" if split == "val" else "train"][0 if in_focus else 1].append(row)
            if in_focus:
                focus.append(case.id)
            sources["stated"] += 1
            continue
        reference = references.get(case.id)
        if reference is None:
            needs[case.id] = missing.get(case.id, "no reference answer")
            if case.id in focus_ids:
                focus_missing.append(case.id)
            continue
        try:
            messages = render_messages(templates, case.vars)
        except PromptsuiteError as exc:
            not_rendered[case.id] = str(exc)
            continue
        example = {"messages": _chat(messages, reference.output)}
        in_focus = case.id in focus_ids
        groups["val" if split == "val" else "train"][0 if in_focus else 1].append(example)
        if in_focus:
            focus.append(case.id)
        sources[reference.source] += 1
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    written: dict[str, tuple[Path, int]] = {}
    for split, (first, rest) in groups.items():
        rng.shuffle(first)
        rng.shuffle(rest)
        lines = first + rest
        if split == "val" and not lines:
            continue
        path = out / f"{prefix}_{'validation' if split == 'val' else 'train'}.jsonl"
        path.write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
            encoding="utf-8",
        )
        problems = validate_jsonl(path)
        if problems:
            raise PromptsuiteError(f"the export wrote an invalid line: {problems[0]}")
        written[split] = (path, len(lines))
    n_train = written["train"][1]
    n_val = written["val"][1] if "val" in written else 0
    return ExportSummary(
        train_path=str(written["train"][0]),
        validation_path=str(written["val"][0]) if "val" in written else None,
        n_train=n_train,
        n_validation=n_val,
        stated=sources["stated"],
        verified=sources["verified"],
        derived=sources["derived"],
        focus_cases=tuple(focus),
        focus_without_reference=tuple(focus_missing),
        needs_reference=needs,
        held_out=held_out,
        not_rendered=not_rendered,
        variant=name,
        lines_validated=n_train + n_val,
        meets_openai_minimum=n_train >= OPENAI_MIN_EXAMPLES,
        collect_more=max(0, RECOMMENDED_MIN_EXAMPLES - n_train - n_val),
        sampled=sources["sampled"],
        teacher=sources["teacher"],
        labelled=sources["labelled"],
    )


def _chat(messages: Sequence[Any], answer: str) -> list[dict[str, Any]]:
    """Chat messages plus the answer; the template's own few-shot replies get weight 0."""
    chat: list[dict[str, Any]] = []
    for message in messages:
        if not message.content.strip():
            continue
        entry: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.role == "assistant":
            entry["weight"] = 0
        chat.append(entry)
    chat.append({"role": "assistant", "content": answer})
    return chat


def _conversation_chat(
    templates: tuple[tuple[str, str], ...], case: ResolvedCase
) -> tuple[list[dict[str, Any]] | None, str]:
    """One example for a whole conversation: the prompt's messages, then every turn, each
    user turn answered by its stated reference (trained on) and fixed assistant turns kept
    as context (weight 0). A user turn whose checks name the tool call it expects (a
    ``tool-args-exact`` or ``tool-args`` check with a name and arguments) is answered by that
    call, the case's canned result for it as a ``tool`` message, then the reference, as
    OpenAI's chat format writes function calling. ``(None, why)`` when a user turn has no
    reference, or expects a call the case gives no result for.

    Raises:
        PromptsuiteError: A template failed to render.
    """
    chat = _chat(render_messages(templates, case.vars), "")[:-1]
    for t, turn in enumerate(case.turns):
        text = render(turn.template, case.vars, what=f"turns[{t}].{turn.role}")
        if turn.role == "assistant":
            chat.append({"role": "assistant", "content": text, "weight": 0})
            continue
        if turn.reference is None:
            return None, f"turn {t + 1} (a user turn) states no reference answer"
        chat.append({"role": "user", "content": text})
        for i, (tool, arguments) in enumerate(_expected_calls(turn.expect)):
            if tool not in turn.tool_results:
                return None, (
                    f"turn {t + 1} expects a call to {tool!r} but the case gives no "
                    "tool_results for it"
                )
            call_id = f"call_{t + 1}_{i + 1}"
            function = {"name": tool, "arguments": json.dumps(arguments, ensure_ascii=False)}
            chat.append(
                {
                    "role": "assistant",
                    "tool_calls": [{"id": call_id, "type": "function", "function": function}],
                }
            )
            content = tool_content(turn.tool_results[tool])
            chat.append({"role": "tool", "tool_call_id": call_id, "content": content})
        answer = render(turn.reference, case.vars, what=f"turns[{t}].reference")
        chat.append({"role": "assistant", "content": answer})
    return chat, ""


def _expected_calls(checks: Sequence[CheckSpec]) -> list[tuple[str, Any]]:
    """The tool calls a turn's checks state in full (name and arguments), in order; an exact
    check wins over a subset check of the same tool."""
    calls: dict[str, tuple[int, Any]] = {}
    for spec in checks:
        if spec.type not in ("tool-args-exact", "tool-args") or not isinstance(spec.value, Mapping):
            continue
        tool, arguments = spec.value.get("name"), spec.value.get("arguments")
        if not isinstance(tool, str) or not isinstance(arguments, Mapping):
            continue
        rank = 0 if spec.type == "tool-args-exact" else 1
        if tool not in calls or rank < calls[tool][0]:
            calls[tool] = (rank, dict(arguments))
    return [(tool, arguments) for tool, (_, arguments) in calls.items()]


# ---------------------------------------------------------------- validation


def validate_example(example: Any) -> list[str]:
    """Problems of one decoded line against OpenAI's chat fine-tuning format.

    The checks follow OpenAI's cookbook "Data preparation and analysis for chat model
    fine-tuning": an object with a non-empty ``messages`` list; each message an object with a
    known ``role`` and string ``content``, and no unknown keys; ``weight`` only 0 or 1 and only
    on assistant messages; an assistant message last, non-empty and trained on.

    Args:
        example: One decoded JSONL line.

    Returns:
        One message per problem; empty when the line is valid.
    """
    if not isinstance(example, Mapping):
        return [f"a line must be a JSON object, got {type(example).__name__}"]
    problems = [f"unknown key {key!r}" for key in example if key not in ("messages", "tools")]
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "'messages' must be a non-empty list"]
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            problems.append(f"{where} must be an object")
            continue
        problems.extend(_message_problems(where, message))
    last = messages[-1]
    if isinstance(last, Mapping) and (last.get("role") != "assistant" or last.get("weight") == 0):
        problems.append("the last message must be an assistant reply that is trained on")
    return problems


def _message_problems(where: str, message: Mapping[str, Any]) -> list[str]:
    role = message.get("role")
    allowed = _MESSAGE_KEYS | ({"tool_calls"} if role == "assistant" else set())
    if role == "tool":
        allowed = frozenset({"role", "content", "tool_call_id"})
    problems = [f"{where}: unknown key {k!r}" for k in message if k not in allowed]
    if role not in _ROLES:
        problems.append(f"{where}: role must be one of system, user, assistant, tool, got {role!r}")
    content = message.get("content")
    calls = message.get("tool_calls")
    if role == "assistant" and calls is not None:
        if not isinstance(calls, list) or not calls or not all(_is_call(c) for c in calls):
            problems.append(
                f"{where}: tool_calls must be a non-empty list of "
                "{id, type: function, function: {name, arguments}}"
            )
        if content is not None and not isinstance(content, str):
            problems.append(f"{where}: content must be a string or absent beside tool_calls")
    elif not isinstance(content, str) or not content.strip():
        problems.append(f"{where}: content must be a non-empty string")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        problems.append(f"{where}: a tool message needs the tool_call_id it answers")
    if "weight" in message and (role != "assistant" or message["weight"] not in (0, 1)):
        problems.append(f"{where}: weight must be 0 or 1, on assistant messages only")
    return problems


def _is_call(call: Any) -> bool:
    function = call.get("function") if isinstance(call, Mapping) else None
    return (
        isinstance(call, Mapping)
        and isinstance(call.get("id"), str)
        and call.get("type") == "function"
        and isinstance(function, Mapping)
        and isinstance(function.get("name"), str)
        and isinstance(function.get("arguments"), str)
    )


def validate_jsonl(path: str | Path) -> list[str]:
    """Validate every line of a JSONL file against the chat fine-tuning format.

    Args:
        path: The file.

    Returns:
        ``file:line: problem`` for every problem; empty when every line is valid.
    """
    problems: list[str] = []
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        try:
            example = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not JSON ({exc.msg})")
            continue
        problems.extend(f"{path}:{number}: {p}" for p in validate_example(example))
    return problems
