"""The fine-tuning export: labelled cases as OpenAI chat fine-tuning JSONL.

Each example is the suite's own prompt template (not DSPy's), rendered with the case's vars,
followed by a reference answer the case's checks accept. Where the reference answers come
from is the honest part, and the rule is written out in ``docs/optimize.md`` ("Fine-tuning
export"):

1. **verified**: an output of a candidate that passed the case (every repeat) in the run;
2. **derived**: an answer built from checks that pin down the whole output (``equals``,
   ``similar`` / ``levenshtein`` values, a fully anchored literal ``regex``, ``json-field``
   values assembled into one object), kept only when the case's own content checks accept it;
3. otherwise the case **needs a reference answer** from a person; nothing is invented.

Every line written is validated against the chat format before the summary is returned.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promptsuite.errors import PromptsuiteError
from promptsuite.optimize._advice import OPENAI_MIN_EXAMPLES, RECOMMENDED_MIN_EXAMPLES
from promptsuite.optimize._records import CaseScore, OptimizationRun

if TYPE_CHECKING:
    from promptsuite._schema import Expectation
    from promptsuite.optimize._analysis import Analysis
    from promptsuite.suite import ResolvedCase, Suite

ReferenceSource = Literal["verified", "derived"]

#: Checks about the call (time, tokens, money), not about the text; a reference answer has
#: no call, so they are left out when a derived answer is checked.
CALL_CHECKS = frozenset({"latency", "tokens", "cost"})
#: Checks that need a grader model; a derived answer cannot be checked offline against them.
GRADED_CHECKS = frozenset({"judge", "llm-rubric"})

_ROLES = frozenset({"system", "user", "assistant"})
_MESSAGE_KEYS = frozenset({"role", "content", "name", "weight"})
# Regex pieces that only allow filler (spaces, punctuation, quotes) around a literal answer.
_FILLER = re.compile(r"\\[WsS]\*|\\[Ws]\+|\\[Ws]\?|\[[^\]]*\][*?]|\\?\.\?|\\?[!?]\?")
_REGEX_META = re.compile(r"[\\^$.|?*+()\[\]{}]")


@dataclass(frozen=True)
class Reference:
    """A reference answer for one case.

    Attributes:
        case_id: The case.
        output: The answer text.
        source: ``verified`` (a passing output from the run) or ``derived`` (from the
            case's expectations, re-checked).
        detail: Where it came from, in words.
    """

    case_id: str
    output: str
    source: ReferenceSource
    detail: str


@dataclass(frozen=True)
class ExportSummary:
    """What the export wrote.

    Attributes:
        train_path: The training file.
        validation_path: The validation file, or None when no validation case has a
            reference answer.
        n_train: Examples in the training file.
        n_validation: Examples in the validation file.
        verified: Examples whose answer is a verified output of the run.
        derived: Examples whose answer was derived from the case's expectations.
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
    """

    train_path: str
    validation_path: str | None
    n_train: int
    n_validation: int
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

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return asdict(self)


# ---------------------------------------------------------------- reference answers


def reference_answers(
    run: OptimizationRun, suite: Suite | None = None
) -> tuple[dict[str, Reference], dict[str, str]]:
    """Find a reference answer for every case, by the documented rule.

    Args:
        run: The optimization run (its passing outputs are the verified answers).
        suite: The suite, to derive answers from expectations; without it only verified
            answers are found.

    Returns:
        ``(references, missing)``: case id -> reference, and case id -> why it has none.
    """
    verified = _verified_outputs(run)
    case_ids = [c.id for c in suite.cases] if suite is not None else list(run.split)
    cases = {c.id: c for c in suite.cases} if suite is not None else {}
    references: dict[str, Reference] = {}
    missing: dict[str, str] = {}
    for case_id in case_ids:
        if case_id in verified:
            references[case_id] = verified[case_id]
            continue
        case = cases.get(case_id)
        if case is None or suite is None:
            missing[case_id] = "no candidate passed it"
            continue
        derived, why = _derive(case, suite)
        if derived is not None:
            references[case_id] = derived
        else:
            missing[case_id] = f"no candidate passed it, and {why}"
    return references, missing


def _verified_outputs(run: OptimizationRun) -> dict[str, Reference]:
    ranked = sorted(run.candidates, key=lambda c: (-c.val_score, c.index))
    results: list[tuple[int, str, CaseScore]] = []
    for candidate in ranked:
        results.extend((candidate.index, "validation", s) for s in candidate.cases)
        results.extend(
            (candidate.index, "test", s) for s in run.test_results.get(candidate.index, [])
        )
    found: dict[str, Reference] = {}
    for index, where, score in results:
        if score.case_id in found or not score.passed or not score.output.strip():
            continue
        found[score.case_id] = Reference(
            score.case_id,
            score.output,
            "verified",
            f"output of candidate {index}, which passed it on every repeat ({where})",
        )
    return found


def _derive(case: ResolvedCase, suite: Suite) -> tuple[Reference | None, str]:
    content = [e for e in case.expect if _base(e.type) not in CALL_CHECKS]
    if any(_base(e.type) in GRADED_CHECKS and e.weight > 0 for e in content):
        return None, "a judge check cannot be verified offline"
    proposals = _proposals(content)
    if not proposals:
        return None, "its checks do not pin down a whole answer (add an equals or similar check)"
    for text, origin in proposals:
        if _accepted(text, case, content, suite):
            detail = f"derived from its {origin}, accepted by its {len(content)} content checks"
            return Reference(case.id, text, "derived", detail), ""
    return None, "the answer its checks suggest fails its other checks"


def _base(type_: str) -> str:
    return type_.removeprefix("not-")


def _proposals(expectations: Sequence[Expectation]) -> list[tuple[str, str]]:
    proposals: list[tuple[str, str]] = []
    fields: list[Expectation] = []
    for exp in expectations:
        if exp.type.startswith("not-"):
            continue
        if exp.type in ("equals", "similar", "levenshtein") and exp.value is not None:
            text = exp.value if isinstance(exp.value, str) else json.dumps(exp.value)
            proposals.append((text.strip(), f"{exp.type} value"))
        elif exp.type == "regex" and isinstance(exp.value, str):
            literal = _regex_literal(exp.value)
            if literal:
                proposals.append((literal, "anchored regex"))
        elif exp.type == "json-field" and exp.path is not None and "value" in exp.model_fields_set:
            fields.append(exp)
    if fields:
        built = _json_from_fields(fields)
        if built is not None:
            proposals.append((built, f"{len(fields)} json-field values"))
    return proposals


def _regex_literal(pattern: str) -> str | None:
    """The literal a fully anchored pattern such as ``^\\W*card_arrival\\W*$`` demands."""
    if not (pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")):
        return None
    core = _FILLER.sub("", pattern[1:-1])
    if not core or _REGEX_META.search(core):
        return None
    return core


def _json_from_fields(fields: Sequence[Expectation]) -> str | None:
    from promptsuite.assertions import _parse_path

    root: dict[str, Any] = {}
    for exp in fields:
        try:
            parts = _parse_path(exp.path or "")
        except ValueError:
            return None
        if any(not isinstance(p, str) for p in parts):
            return None
        node = root
        for part in parts[:-1]:
            child = node.setdefault(str(part), {})
            if not isinstance(child, dict):
                return None
            node = child
        node[str(parts[-1])] = exp.value
    return json.dumps(root, ensure_ascii=False)


def _accepted(
    text: str, case: ResolvedCase, expectations: Sequence[Expectation], suite: Suite
) -> bool:
    from promptsuite.assertions import CheckContext, case_outcome, evaluate
    from promptsuite.models._base import Generation

    context = CheckContext(
        output=text,
        generation=Generation(text=text),
        vars=case.vars,
        messages=(),
        suite_dir=Path(suite.path).parent,
    )

    async def check_all() -> bool:
        results = [await evaluate(exp, context) for exp in expectations]
        return case_outcome(results, case.threshold)[0]

    try:
        return asyncio.run(check_all())
    except PromptsuiteError:
        return False


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
        suite: The suite the run optimized (its cases, expectations and template).
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
    from promptsuite.template import render_messages

    if analysis is None:
        from promptsuite.optimize._analysis import analyze

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
    sources = {"verified": 0, "derived": 0}
    for case in suite.cases:
        split = run.split.get(case.id, "train")
        if split == "test":
            held_out += 1
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
        problems.extend(f"{where}: unknown key {k!r}" for k in message if k not in _MESSAGE_KEYS)
        role = message.get("role")
        if role not in _ROLES:
            problems.append(f"{where}: role must be one of system, user, assistant, got {role!r}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            problems.append(f"{where}: content must be a non-empty string")
        if "weight" in message and (role != "assistant" or message["weight"] not in (0, 1)):
            problems.append(f"{where}: weight must be 0 or 1, on assistant messages only")
    last = messages[-1]
    if isinstance(last, Mapping) and (last.get("role") != "assistant" or last.get("weight") == 0):
        problems.append("the last message must be an assistant reply that is trained on")
    return problems


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
