"""Reference answers: the gold output of a case, stated in the suite or derived from its checks.

A case's reference is, by the documented rule (``docs/optimize.md``, "Reference answers"):

1. **stated**: the case's own ``reference:`` (the reply text, or for a JSON reply the expected
   fields as a mapping, written as that JSON object);
2. **derived**: the one answer the case's deterministic checks pin down. Checks that fix the
   whole output propose it (an ``equals``, ``similar`` or ``levenshtein`` value, a fully
   anchored literal ``regex``, ``json-field`` values assembled into one object); when none
   does, checks that name a piece of it (a single ``contains`` / ``icontains`` /
   ``starts-with`` value, each ``contains-any`` option) propose their piece, kept only when
   the other checks pin it as the whole reply (the piece passes, the piece with words
   around it fails: ``contains: "26616"`` with ``regex: "^\\d{5}$"``, not ``contains:
   refund`` alone). A proposal is kept only when the case's own content checks accept it,
   and only when exactly one distinct proposal is accepted: an ambiguous case has no
   reference;
3. otherwise none: nothing is invented. The optimizer adds **sampled** references (the best
   passing reply among K samples of a train case, from the task model or a teacher; see
   :mod:`promptsuite.optimize.search`) and **verified** ones (outputs of its own candidates
   that passed a case).

References feed labelled demos (from the train split only), the fine-tuning export and the
learning curve.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from promptsuite._schema import CheckSpec
from promptsuite.checks import CheckContext, check_types, parse_path, score, split_type
from promptsuite.errors import PromptsuiteError
from promptsuite.models import Generation
from promptsuite.suite import ResolvedCase, Suite

ReferenceSource = Literal["stated", "derived", "labelled", "sampled", "teacher", "verified"]
"""Where a reference answer came from: stated in the suite, derived from its checks, labelled
passing by a person, the best passing sample of the task model or of a teacher model, or a
passing output of an optimization run."""

#: Checks about the call (time, tokens, money, how it finished, its log-probabilities) or
#: about other variants' replies, not about the text alone; a reference answer has no call,
#: so they are left out when a derived answer is checked.
CALL_CHECKS = frozenset(
    {"latency", "tokens", "cost", "finish-reason", "perplexity", "perplexity-score", "select-best"}
)
#: Checks whose answer a similarity to their value measures: an output identical to the
#: value passes them without a model, so they may propose and accept a derived answer.
SIMILARITY_CHECKS = frozenset({"similar", "similar:cosine", "similar:dot", "similar:euclidean"})
#: Checks whose value is the whole answer (or close to it).
WHOLE_ANSWER_CHECKS = frozenset({"equals", "levenshtein", "similar-text"} | SIMILARITY_CHECKS)
#: Checks whose value is a piece the answer must hold.
PIECE_CHECKS = frozenset({"contains", "icontains", "starts-with"})

# Regex pieces that only allow filler (spaces, punctuation, quotes) around a literal answer.
_FILLER = re.compile(r"\\[WsS]\*|\\[Ws]\+|\\[Ws]\?|\[[^\]]*\][*?]|\\?\.\?|\\?[!?]\?")
_REGEX_META = re.compile(r"[\\^$.|?*+()\[\]{}]")


@dataclass(frozen=True)
class Reference:
    """A reference answer for one case.

    Attributes:
        case_id: The case.
        output: The answer text.
        source: ``stated``, ``derived`` (from the case's checks, re-checked),
            ``labelled`` (a person marked the output passing), ``sampled`` / ``teacher``
            (the best passing sample of the task model / a teacher model) or ``verified``
            (a passing output of an optimization run).
        detail: Where it came from, in words.
    """

    case_id: str
    output: str
    source: ReferenceSource
    detail: str


def case_reference(case: ResolvedCase, suite: Suite) -> tuple[Reference | None, str]:
    """The case's stated or derived reference, or None and why it has none."""
    if case.reference is not None:
        text = case.reference if isinstance(case.reference, str) else _json(case.reference)
        return Reference(case.id, text, "stated", "stated in the suite (reference:)"), ""
    content = content_checks(case.expect)
    graded = [e.type for e in content if e.weight > 0 and _needs_grader(e)]
    if graded:
        return None, f"a model-graded check ({graded[0]}) cannot be verified offline"
    for strength, proposals in (("whole", _whole(content)), ("piece", _pieces(content))):
        accepted = {
            text: origin
            for text, origin in proposals
            if accepts(text, case, suite) and (strength == "whole" or _pinned(text, case, suite))
        }
        if len(accepted) == 1:
            [(text, origin)] = accepted.items()
            detail = f"derived from its {origin}, accepted by its {len(content)} content checks"
            return Reference(case.id, text, "derived", detail), ""
        if len(accepted) > 1:
            options = ", ".join(repr(t) for t in sorted(accepted)[:3])
            return None, f"its checks accept several answers ({options}); state a reference"
        if strength == "whole" and proposals:
            return None, "the answer its checks suggest fails its other checks"
    return None, "its checks do not pin down an answer (state a reference, or add an equals check)"


def case_references(
    suite: Suite, cases: Iterable[ResolvedCase] | None = None
) -> tuple[dict[str, Reference], dict[str, str]]:
    """The stated or derived reference of each case (default: every case of the suite).

    Returns:
        ``(references, missing)``: case id -> reference, and case id -> why it has none.
    """
    references: dict[str, Reference] = {}
    missing: dict[str, str] = {}
    for case in suite.cases if cases is None else cases:
        reference, why = case_reference(case, suite)
        if reference is not None:
            references[case.id] = reference
        else:
            missing[case.id] = why
    return references, missing


def content_checks(specs: Iterable[CheckSpec]) -> list[CheckSpec]:
    """The checks about the text (not the call's latency, tokens or cost)."""
    return [s for s in specs if _base(s.type) not in CALL_CHECKS]


def accepts(text: str, case: ResolvedCase, suite: Suite) -> bool:
    """Whether the case's content checks pass ``text`` (a check that cannot run: no)."""
    return asyncio.run(passes(text, case, suite))


async def passes(text: str, case: ResolvedCase, suite: Suite) -> bool:
    """:func:`accepts`, for a caller already on an event loop."""
    return (await text_score(text, case, suite))[0]


async def text_score(text: str, case: ResolvedCase, suite: Suite) -> tuple[bool, float]:
    """Whether the case's content checks pass ``text``, and its score (no: 0 when a check
    cannot run offline)."""
    context = CheckContext(
        output=text,
        generation=Generation(text=text),
        vars=case.vars,
        messages=(),
        suite_dir=Path(suite.path).parent,
    )
    try:
        scored = await score(content_checks(case.expect), context, case.threshold)
    except PromptsuiteError:
        return False, 0.0
    return scored.passed, scored.score


def _pinned(piece: str, case: ResolvedCase, suite: Suite) -> bool:
    """Whether the checks refuse the piece with words around it: it is the whole reply."""
    return not any(
        accepts(padded, case, suite) for padded in (f"The answer is {piece}.", f"{piece} and more")
    )


def _needs_grader(spec: CheckSpec) -> bool:
    """Whether a check asks a grader model (similarity checks are judged offline on an
    identical reply, which is all a derived answer needs)."""
    base = _base(spec.type)
    if base in SIMILARITY_CHECKS:
        return False
    entry = {t.name: t for t in check_types()}.get(base)
    return entry is not None and "grader" in entry.fields


def _base(type_: str) -> str:
    return split_type(type_)[1]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _whole(specs: Sequence[CheckSpec]) -> list[tuple[str, str]]:
    proposals: list[tuple[str, str]] = []
    fields: list[CheckSpec] = []
    for spec in specs:
        if spec.type.startswith("not-"):
            continue
        if spec.type in WHOLE_ANSWER_CHECKS and spec.value is not None:
            text = spec.value if isinstance(spec.value, str) else _json(spec.value)
            proposals.append((text.strip(), f"{spec.type} value"))
        elif spec.type == "regex" and isinstance(spec.value, str):
            literal = _regex_literal(spec.value)
            if literal:
                proposals.append((literal, "anchored regex"))
        elif (
            spec.type == "json-field" and spec.path is not None and "value" in spec.model_fields_set
        ):
            fields.append(spec)
    if fields:
        built = _json_from_fields(fields)
        if built is not None:
            proposals.append((built, f"{len(fields)} json-field values"))
    return proposals


def _pieces(specs: Sequence[CheckSpec]) -> list[tuple[str, str]]:
    proposals: list[tuple[str, str]] = []
    for spec in specs:
        if spec.type in PIECE_CHECKS and isinstance(spec.value, str | int | float):
            proposals.append((str(spec.value).strip(), f"{spec.type} value"))
        elif spec.type in ("contains-any", "icontains-any") and isinstance(spec.value, list):
            proposals.extend((str(v).strip(), f"{spec.type} option") for v in spec.value)
    return [(text, origin) for text, origin in proposals if text]


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
    for spec in fields:
        try:
            parts = parse_path(spec.path or "")
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
        node[str(parts[-1])] = spec.value
    return _json(root)
