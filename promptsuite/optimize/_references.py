"""Reference answers: the output a case should get, found by a documented rule.

1. **verified**: an output of a candidate that passed the case (every repeat) in the run;
2. **derived**: an answer built from checks that pin down the whole output (``equals``,
   ``similar`` / ``levenshtein`` values, a fully anchored literal ``regex``, ``json-field``
   values assembled into one object), kept only when the case's own content checks accept it;
3. otherwise the case **needs a reference answer** from a person; nothing is invented.

The fine-tuning export and the analysis share this one function (``docs/optimize.md``,
"Fine-tuning export").
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promptsuite.checks import CheckContext, parse_path, score, split_type
from promptsuite.errors import PromptsuiteError
from promptsuite.models import Generation
from promptsuite.optimize._records import CaseScore, OptimizationRun

if TYPE_CHECKING:
    from promptsuite._schema import CheckSpec
    from promptsuite.suite import ResolvedCase, Suite

ReferenceSource = Literal["verified", "derived"]

#: Checks about the call (time, tokens, money), not about the text; a reference answer has
#: no call, so they are left out when a derived answer is checked.
CALL_CHECKS = frozenset({"latency", "tokens", "cost"})
#: Checks that need a grader model; a derived answer cannot be checked offline against them.
GRADED_CHECKS = frozenset({"judge", "llm-rubric"})

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
            case's checks, re-checked).
        detail: Where it came from, in words.
    """

    case_id: str
    output: str
    source: ReferenceSource
    detail: str


def reference_answers(
    run: OptimizationRun, suite: Suite | None = None
) -> tuple[dict[str, Reference], dict[str, str]]:
    """Find a reference answer for every case, by the documented rule.

    Args:
        run: The optimization run (its passing outputs are the verified answers).
        suite: The suite, to derive answers from its checks; without it only verified
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
    for index, where, scored in results:
        if scored.case_id in found or not scored.passed or not scored.output.strip():
            continue
        found[scored.case_id] = Reference(
            scored.case_id,
            scored.output,
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
    return split_type(type_)[1]


def _proposals(specs: Sequence[CheckSpec]) -> list[tuple[str, str]]:
    proposals: list[tuple[str, str]] = []
    fields: list[CheckSpec] = []
    for exp in specs:
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


def _json_from_fields(fields: Sequence[CheckSpec]) -> str | None:
    root: dict[str, Any] = {}
    for exp in fields:
        try:
            parts = parse_path(exp.path or "")
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


def _accepted(text: str, case: ResolvedCase, specs: Sequence[CheckSpec], suite: Suite) -> bool:
    context = CheckContext(
        output=text,
        generation=Generation(text=text),
        vars=case.vars,
        messages=(),
        suite_dir=Path(suite.path).parent,
    )

    try:
        return asyncio.run(score(specs, context, case.threshold)).passed
    except PromptsuiteError:
        return False
