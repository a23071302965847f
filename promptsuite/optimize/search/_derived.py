"""Candidates that need no proposer model: rules read off the checks, patterns, labelled demos.

A 135M model cannot write instructions for itself, but a suite already says what a good
reply is: its checks. This module turns them into candidate material, documented in
``docs/optimize.md`` ("The auto search"):

* **rules**: one plain sentence per kind of check the train cases share ("Reply with exactly
  one of these labels: ...", "Use at most 15 words.", "Start your reply with \"Sorry\".");
  values that differ per case (each case's own answer) are never copied into a rule, only
  their shape ("the 5-digit number");
* **failure rules**: the same rules, the ones the baseline broke most often first;
* **patterns**: a small library of instruction patterns that help small models
  (:data:`PATTERNS`);
* **labelled demos**: train cases with a reference answer, one per label for a
  classification task, else the most diverse cases; never a validation or test case.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from promptsuite._schema import CheckSpec
from promptsuite.checks import bounds_text, split_type
from promptsuite.optimize._records import Demo
from promptsuite.references import CALL_CHECKS, Reference
from promptsuite.suite import ResolvedCase

#: Most labels a classification task shows one demo each of.
MAX_LABEL_DEMOS = 16
#: At most this many distinct labels make the references a label set.
MAX_LABELS = 30


@dataclass(frozen=True)
class Pattern:
    """An instruction pattern: what it adds to an instruction, and why it helps."""

    name: str
    text: str
    why: str
    needs_demos: bool = False


#: Instruction patterns known to help small models follow a format (docs/optimize.md).
PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "answer-only",
        "Reply with the answer only. Do not explain, do not greet, do not repeat the question.",
        "small models pad answers with a sentence around them; forbidding it is often enough",
    ),
    Pattern(
        "imitate",
        "Reply exactly in the format of the example replies above, and nothing more.",
        "small models copy the shape of in-context examples better than they follow rules",
        needs_demos=True,
    ),
    Pattern(
        "rules-last",
        "Before you reply, check every rule above; a reply that breaks one is wrong.",
        "restating that the rules bind makes instruction-tuned models weigh them",
    ),
)


@dataclass(frozen=True)
class Rule:
    """One sentence of an instruction, and the check types it speaks for."""

    text: str
    checks: frozenset[str]


def check_rules(cases: Sequence[ResolvedCase], references: Mapping[str, Reference]) -> list[Rule]:
    """The rules the cases' checks imply, format first; values that differ per case are
    described by their shape, never copied.

    Args:
        cases: The train cases (only their checks and references are read).
        references: Their reference answers (for the shape of varying answers).
    """
    found: dict[str, Rule] = {}

    def add(key: str, text: str, *types: str) -> None:
        found.setdefault(key, Rule(text, frozenset(types)))

    shared = _shared_checks(cases)
    for spec in shared:
        _rule_for_shared(spec, add)
    answers = [references[c.id].output for c in cases if c.id in references]
    per_case = {
        split_type(spec.type)[1]
        for case in cases
        for spec in case.expect
        if spec.weight > 0 and _key(spec) not in {_key(s) for s in shared}
    }
    if per_case & {"equals", "similar", "levenshtein", "regex", "json-field"} and answers:
        add("answer-shape", _answer_shape_rule(answers), *sorted(per_case))
    return sorted(found.values(), key=lambda r: _ORDER.get(next(iter(sorted(r.checks))), 9))


def instruction_with(instruction: str, rules: Sequence[Rule], heading: str) -> str:
    """The instruction with a list of rules after it."""
    if not rules:
        return instruction
    body = f"{heading}\n" + "\n".join(f"- {rule.text}" for rule in rules)
    return f"{instruction.rstrip()}\n\n{body}" if instruction.strip() else body


def failure_rules(rules: Sequence[Rule], failed: Counter[str]) -> list[Rule]:
    """The rules whose checks failed, most often failed first (the others after them)."""

    def failures(rule: Rule) -> int:
        return sum(failed[t] for t in rule.checks)

    return sorted(rules, key=lambda r: -failures(r))[: max(1, sum(1 for r in rules if failures(r)))]


def with_pattern(instruction: str, pattern: Pattern) -> str:
    """The instruction with a pattern's sentence appended."""
    return f"{instruction.rstrip()}\n\n{pattern.text}" if instruction.strip() else pattern.text


@dataclass(frozen=True)
class DemoPlan:
    """The labelled demo sets a search tries.

    Attributes:
        kind: ``classification`` (the references are a small set of labels), ``open``, or
            ``repaired`` (no references: the model's own train replies, trimmed to the
            checks' format).
        main: The first set: one per label, or the most diverse ``max_demos`` cases.
        small: A smaller set (two demos), or empty.
        alternate: Another draw of the main set's size from other cases, or empty.
        labels: For classification, the labels.
    """

    kind: str
    main: tuple[Demo, ...]
    small: tuple[Demo, ...]
    alternate: tuple[Demo, ...]
    labels: tuple[str, ...] = ()


def repaired_plan(demos: Sequence[Demo]) -> DemoPlan:
    """The demo plan of repaired replies (see :func:`repair`)."""
    main = tuple(demos)
    return DemoPlan("repaired", main, main[:2] if len(main) > 2 else (), ())


def plan_demos(
    cases: Sequence[ResolvedCase],
    references: Mapping[str, Reference],
    *,
    max_demos: int,
    seed: int,
) -> DemoPlan:
    """Choose labelled demos from train cases with a reference answer.

    Args:
        cases: The train cases (never validation or test cases).
        references: Their reference answers.
        max_demos: Most demos in an open task's set (classification shows one per label).
        seed: Seed of the draws.
    """
    labelled = [c for c in cases if c.id in references]
    if not labelled or max_demos < 1:
        return DemoPlan("open", (), (), ())
    rng = random.Random(seed)
    order = labelled[:]
    rng.shuffle(order)
    answers = [_norm(references[c.id].output) for c in order]
    labels = list(dict.fromkeys(answers))
    # Sampled replies of an open-ended task repeat ("Sorry for the trouble.") without being
    # labels: a task is a classification only when its answers are stated or derived.
    fixed = all(references[c.id].source in ("stated", "derived") for c in order)
    if fixed and 1 < len(labels) <= MAX_LABELS and len(labels) < len(answers):
        by_label: dict[str, list[ResolvedCase]] = {}
        for case, answer in zip(order, answers, strict=True):
            by_label.setdefault(answer, []).append(case)
        shown = sorted(labels, key=lambda a: (-len(by_label[a]), labels.index(a)))
        shown = shown[:MAX_LABEL_DEMOS]
        first = [by_label[label][0] for label in shown]
        second = [by_label[label][1] for label in shown if len(by_label[label]) > 1]
        rng.shuffle(first)
        rng.shuffle(second)
        demos = _demos(first, references)
        return DemoPlan(
            "classification",
            demos,
            demos[:2] if len(demos) > 2 else (),
            _demos(second, references) if len(second) == len(first) else (),
            tuple(shown),
        )
    size = min(max_demos, len(order))
    main = _diverse(order, size)
    rest = [c for c in order if c not in main]
    return DemoPlan(
        "open",
        _demos(main, references),
        _demos(main[:2], references) if size > 2 else (),
        _demos(_diverse(rest, size), references) if len(rest) >= size else (),
    )


# ---------------------------------------------------------------- rules from checks

# Format rules first, then content, then the rest.
_ORDER = {
    "is-json": 0,
    "json-schema": 0,
    "contains-json": 0,
    "equals": 1,
    "regex": 1,
    "starts-with": 2,
    "length": 3,
    "word-count": 3,
    "tokens": 3,
    "json-field": 4,
    "contains": 5,
    "icontains": 5,
    "contains-any": 5,
    "icontains-any": 5,
    "contains-all": 5,
    "icontains-all": 5,
    "judge": 7,
    "llm-rubric": 7,
}


def _key(spec: CheckSpec) -> str:
    return json.dumps(spec.model_dump(mode="json", exclude={"weight", "metric"}), sort_keys=True)


def _shared_checks(cases: Sequence[ResolvedCase]) -> list[CheckSpec]:
    """Checks (with their values) that every case carries, in the first case's order."""
    if not cases:
        return []
    keys = [{_key(s) for s in case.expect if s.weight > 0} for case in cases]
    common = set.intersection(*keys)
    return [s for s in cases[0].expect if _key(s) in common and s.weight > 0]


def _quoted(values: Iterable[object]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) for v in values)


def limits(spec: CheckSpec) -> tuple[float | None, float | None]:
    """A length check's ``(min, max)``, from its fields or promptfoo's ``value: {min, max}``."""
    low, high = spec.min, spec.max
    if isinstance(spec.value, dict):
        low = low if low is not None else spec.value.get("min")
        high = high if high is not None else spec.value.get("max")
    elif isinstance(spec.value, int | float) and not isinstance(spec.value, bool):
        high = high if high is not None else spec.value
    return low, high


def _bounds(spec: CheckSpec, unit: str) -> str | None:
    text = bounds_text(*limits(spec), unit)
    return f"Use {text}." if text else None


#: The heading of the rules read off the checks, in an instruction.
RULES_HEADING = "Rules for your reply:"

_WORD_PATTERN = re.compile(r"(?:\(\?i\))?\\b([A-Za-z][A-Za-z' -]*[A-Za-z])\\b")


def _regex_word(pattern: str) -> str | None:
    """The word or phrase a pattern such as ``(?i)\\bapp\\b`` asks for (a small model
    follows "include the word" where it cannot read a regular expression)."""
    found = _WORD_PATTERN.fullmatch(pattern)
    return found.group(1) if found else None


def _rule_for_shared(spec: CheckSpec, add: Callable[..., None]) -> None:
    negated, base = split_type(spec.type)
    value = spec.value
    if base in CALL_CHECKS - {"tokens"}:
        return
    if negated:
        if base in ("contains", "icontains") and isinstance(value, str):
            add(f"never:{value}", f"Never write {json.dumps(value)}.", base)
        elif base in ("contains-any", "icontains-any") and isinstance(value, list):
            add(f"never:{value}", f"Never write any of: {_quoted(value)}.", base)
        elif base == "regex" and isinstance(value, str):
            add(f"nomatch:{value}", f"Your reply must not match the pattern /{value}/.", base)
        elif base == "starts-with" and isinstance(value, str):
            add(f"nostart:{value}", f"Do not start your reply with {json.dumps(value)}.", base)
        return
    if base == "equals" and isinstance(value, str):
        add("equals", f"Reply with exactly {json.dumps(value)} and nothing else.", base)
    elif base == "equals":
        add("json", "Reply with JSON only, no other text.", base)
    elif base == "regex" and isinstance(value, str) and _regex_word(value):
        add(f"regex:{value}", f"Include the word {json.dumps(_regex_word(value))}.", base)
    elif base == "regex" and isinstance(value, str):
        anchored = value.startswith("^") and value.endswith("$")
        where = "Your whole reply" if anchored else "Your reply"
        add(f"regex:{value}", f"{where} must match the pattern /{value}/.", base)
    elif base == "starts-with" and isinstance(value, str):
        add("starts-with", f"Start your reply with {json.dumps(value)}.", base)
    elif base in ("contains", "icontains") and isinstance(value, str | int | float):
        add(f"contains:{value}", f"Include {json.dumps(str(value))} in your reply.", base)
    elif base in ("contains-any", "icontains-any") and isinstance(value, list):
        add(f"any:{value}", f"Include at least one of: {_quoted(value)}.", base)
    elif base in ("contains-all", "icontains-all") and isinstance(value, list):
        add(f"all:{value}", f"Include all of: {_quoted(value)}.", base)
    elif base in ("length", "character-count"):
        text = _bounds(spec, "characters")
        if text:
            add("length", text, base)
    elif base == "word-count":
        text = _bounds(spec, "words")
        if text:
            add("word-count", text, base)
    elif base == "tokens" and spec.max is not None:
        add("tokens", "Keep your reply short.", base)
    elif base in ("is-json", "json-schema"):
        schema = spec.json_schema if spec.json_schema is not None else spec.value
        add("json", "Reply with one JSON value only, no other text.", base)
        if isinstance(schema, dict):
            compact = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
            add("schema", f"The JSON must follow this JSON Schema: {compact}", base)
    elif base == "contains-json":
        add("contains-json", "Include one JSON object in your reply.", base)
    elif base == "json-field" and spec.path:
        add(f"field:{spec.path}", f"The JSON must have the field {json.dumps(spec.path)}.", base)
    elif base in ("judge", "llm-rubric"):
        rubric = spec.rubric if spec.rubric is not None else value
        if isinstance(rubric, str):
            add(f"rubric:{rubric}", f"Make sure your reply meets this: {rubric}", base)


_DIGITS = re.compile(r"^\d+$")
_IDENT = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")


def _answer_shape_rule(answers: Sequence[str]) -> str:
    """How the per-case answers look, said without giving any of them away."""
    texts = [a.strip() for a in answers]
    lengths = {len(t) for t in texts}
    if all(_DIGITS.match(t) for t in texts):
        size = f"{next(iter(lengths))}-digit " if len(lengths) == 1 else ""
        return f"Reply with the {size}number only: digits, no other words or symbols."
    if all(t.startswith(("{", "[")) for t in texts):
        return "Reply with the JSON only, no other text."
    if all(_IDENT.match(t) for t in texts):
        return "Reply with one snake_case label only, no other words."
    words = max(len(t.split()) for t in texts)
    if words == 1:
        return "Reply with one word only, no other words or punctuation."
    return f"Reply with the answer only, in at most {words} words, nothing else."


# ---------------------------------------------------------------- demos


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _demos(cases: Sequence[ResolvedCase], references: Mapping[str, Reference]) -> tuple[Demo, ...]:
    return tuple(Demo(vars=dict(c.vars), output=references[c.id].output) for c in cases)


def _words(case: ResolvedCase) -> frozenset[str]:
    text = " ".join(str(v) for v in case.vars.values())
    return frozenset(re.findall(r"\w+", text.casefold()))


def _diverse(cases: Sequence[ResolvedCase], size: int) -> list[ResolvedCase]:
    """Greedy farthest-point choice by word-set (Jaccard) distance; the first is kept."""
    if size <= 0 or not cases:
        return []
    words = {c.id: _words(c) for c in cases}

    def distance(a: ResolvedCase, b: ResolvedCase) -> float:
        x, y = words[a.id], words[b.id]
        union = x | y
        return 1.0 - len(x & y) / len(union) if union else 0.0

    chosen = [cases[0]]
    while len(chosen) < min(size, len(cases)):
        remaining = [c for c in cases if c not in chosen]
        chosen.append(max(remaining, key=lambda c: min(distance(c, d) for d in chosen)))
    return chosen


# ---------------------------------------------------------------- repaired replies


def repair(text: str, specs: Sequence[CheckSpec]) -> str:
    """The model's own reply, minimally edited toward the format its checks demand.

    For a suite without reference answers, a reply that fails only on its shape (too long,
    a missing opening word, a second line) becomes a usable demo once trimmed. Only the
    shape is changed, never the content: the first line when the checks forbid line
    breaks, the required opening word, the word and character limits, forbidden phrases
    removed. The caller keeps the result only if the case's checks pass it.
    """
    reply = text.strip()
    if reply and any(s.type == "not-contains" and s.value == "\n" for s in specs):
        reply = reply.splitlines()[0].strip()
    for spec in specs:
        negated, base = split_type(spec.type)
        forbidden = spec.value if isinstance(spec.value, str) else ""
        if negated and base in ("contains", "icontains") and forbidden not in ("", "\n"):
            flags = re.IGNORECASE if base == "icontains" else 0
            reply = re.sub(re.escape(forbidden), "", reply, flags=flags).strip()
    for spec in specs:
        if spec.type == "starts-with" and isinstance(spec.value, str) and spec.value:
            reply = _open_with(reply, spec.value)
    for spec in specs:
        high = limits(spec)[1]
        if spec.type == "word-count" and high is not None:
            reply = _first_words(reply, int(high))
        elif spec.type in ("length", "character-count") and high is not None:
            reply = _first_chars(reply, int(high))
    return reply


def _open_with(reply: str, opening: str) -> str:
    at = reply.casefold().find(opening.casefold())
    if 0 <= at <= 40:
        rest = reply[at + len(opening) :]
        return opening + rest
    return f"{opening} {reply}" if reply else opening


def _first_words(reply: str, limit: int) -> str:
    if len(reply.split()) <= limit:
        return reply
    sentence = re.split(r"(?<=[.!?])\s+", reply)[0]
    if len(sentence.split()) <= limit:
        return sentence
    cut = " ".join(reply.split()[:limit]).rstrip(",;:")
    return cut if cut.endswith((".", "!", "?")) else cut + "."


def _first_chars(reply: str, limit: int) -> str:
    if len(reply) <= limit:
        return reply
    cut = reply[: max(0, limit - 1)].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "." if cut else reply[:limit]
