"""promptfoo assertions as promptsuite checks.

promptsuite reads promptfoo's spellings itself (``value`` holding a schema, ``threshold`` for
latency and cost, ``provider`` for the grader, ``assert-set``, ``transform``), so most
assertions carry over unchanged; this module rewrites file references, reads the compact
string form of CSV ``__expected`` columns, and reports what promptsuite cannot run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from promptsuite.checks import known_types, split_type
from promptsuite.promptfoo._notes import Notes, Where, read_file
from promptsuite.promptfoo._nunjucks import translate_filters
from promptsuite.promptfoo._providers import grader_ref

FILE = "file://"
# Assertion fields promptsuite reads (others are reported).
_CARRIED = {"type", "value", "threshold", "weight", "metric", "provider", "config", "transform"}
_CARRIED |= {"assert"}
# Types whose code is JavaScript (or Ruby): promptsuite runs Python only.
_SCRIPT_TYPES = {"javascript", "ruby"}
_MODEL_GRADED = {
    "llm-rubric",
    "factuality",
    "model-graded-factuality",
    "model-graded-closedqa",
    "g-eval",
    "answer-relevance",
    "select-best",
}
# Types whose value names a file to read as text (the reference or the rubric).
_TEXT_FILES = {".txt", ".md", ".json", ".yaml", ".yml"}
_COMPACT = re.compile(
    r"^(?P<type>[a-z][a-z0-9:-]*)(?:\((?P<threshold>[0-9.]+)\))?:(?P<value>.*)$", re.S
)
_COMPACT_ALIASES = {"grade": "llm-rubric", "fn": "javascript", "eval": "javascript"}


class AssertionConverter:
    """Converts assertions found in one config, noting what it cannot carry over.

    Args:
        notes: Where the notes go.
        config_dir: The folder ``file://`` paths in the config are relative to.
        suite_dir: The folder the written suite will be in (Python files are referenced
            from there).
        default_grader: ``defaultTest.options.provider``, for model-graded assertions.
        templates: ``assertionTemplates``, which ``$ref: '#/assertionTemplates/name'`` uses.
    """

    def __init__(
        self,
        notes: Notes,
        config_dir: Path,
        suite_dir: Path,
        default_grader: Any = None,
        templates: dict[str, Any] | None = None,
    ) -> None:
        self.notes = notes
        self.config_dir = config_dir
        self.suite_dir = suite_dir
        self.default_grader = default_grader
        self.templates = templates or {}

    def convert_all(self, raws: Any, where: Where, grader: Any = None) -> list[dict[str, Any]]:
        """Every assertion of an ``assert`` list that promptsuite can run."""
        if raws is None:
            return []
        if not isinstance(raws, list):
            self.notes.add(where, "assert must be a list of assertions; left out")
            return []
        checks = []
        for i, raw in enumerate(raws):
            converted = self.convert(raw, (*where, i), grader)
            if converted is not None:
                checks.append(converted)
        return checks

    def convert(self, raw: Any, where: Where, grader: Any = None) -> dict[str, Any] | None:
        """One assertion as a check, or None (with a note) when it cannot be run."""
        if isinstance(raw, str):
            raw = parse_compact(raw)
        if isinstance(raw, dict) and "$ref" in raw:
            pointer = str(raw["$ref"])
            template = self.templates.get(pointer.removeprefix("#/assertionTemplates/"))
            if not pointer.startswith("#/assertionTemplates/") or not isinstance(template, dict):
                self.notes.add(where, f"$ref {pointer!r} names no assertion template; left out")
                return None
            raw = {**template, **{k: v for k, v in raw.items() if k != "$ref"}}
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            self.notes.add(where, "an assertion needs a type; left out")
            return None
        base = split_type(raw["type"])[1]
        if base in _SCRIPT_TYPES:
            code = " ".join(str(raw.get("value", "")).split())[:60]
            language = "JavaScript" if base == "javascript" else "Ruby"
            self.notes.add(
                where,
                f"{raw['type']} {code!r} is {language}; promptsuite runs Python checks"
                " (type: python); left out",
            )
            return None
        if base not in known_types():
            self.notes.add(where, f"promptsuite has no {base!r} check; left out")
            return None
        check = {k: v for k, v in raw.items() if k in _CARRIED}
        if "value" in check:  # rendered over the case's vars, as promptfoo renders it
            check["value"] = self._jinja(check["value"], (*where, "value"))
        for key in sorted(set(raw) - _CARRIED):
            self.notes.add((*where, key), f"{key!r} is not carried over ({base} runs without it)")
        if base == "assert-set":
            check["assert"] = self.convert_all(raw.get("assert"), (*where, "assert"), grader)
            if not check["assert"]:
                self.notes.add(where, "assert-set has no check promptsuite can run; left out")
                return None
        if "provider" in check:
            ref = grader_ref(check.pop("provider"), (*where, "provider"), self.notes)
            if ref is not None:
                check["grader"] = ref
        elif base in _MODEL_GRADED and (grader or self.default_grader) is not None:
            ref = grader_ref(grader or self.default_grader, (*where, "provider"), self.notes)
            if ref is not None:
                check["grader"] = ref
        if not self._files(check, base, where):
            return None
        if "transform" in check and not self.python_code(check, "transform", where):
            return None
        if base == "cost" and "value" not in check:
            self.notes.add(
                where,
                "cost: promptsuite computes the cost from prices; add value: {prompt: USD,"
                " completion: USD} per million tokens; left out",
            )
            return None
        return check

    def _jinja(self, value: Any, where: Where) -> Any:
        """A value with the Nunjucks filters of its templates as Jinja2's."""
        if isinstance(value, str):
            translated, problems = translate_filters(value)
            for problem in problems:
                self.notes.add(where, problem)
            return translated
        if isinstance(value, list):
            return [self._jinja(item, where) for item in value]
        if isinstance(value, dict):
            return {key: self._jinja(item, where) for key, item in value.items()}
        return value

    def _files(self, check: dict[str, Any], base: str, where: Where) -> bool:
        value = check.get("value")
        if not isinstance(value, str) or not value.startswith(FILE):
            return True
        if base == "python":
            return self.python_code(check, "value", where)
        path = (self.config_dir / value[len(FILE) :]).resolve()
        if path.suffix not in _TEXT_FILES or not path.is_file():
            self.notes.add((*where, "value"), f"{value}: cannot read it as text; left out")
            return False
        parse = path.suffix in {".json", ".yaml", ".yml"}
        loaded = read_file(path, self.notes, (*where, "value"), parse=parse)
        if loaded is None:
            return False
        check["value"] = loaded
        return True

    def python_code(self, check: dict[str, Any], key: str, where: Where) -> bool:
        """Keep Python code (rewriting a file path for the suite's folder); refuse others."""
        code = check[key]
        if not isinstance(code, str):
            self.notes.add((*where, key), f"{key} must be code as text; left out")
            return False
        if not code.startswith(FILE):
            if key == "transform":  # inline transforms in promptfoo configs are JavaScript
                self.notes.add(
                    (*where, key),
                    f"transform {' '.join(code.split())[:60]!r} is JavaScript; promptsuite"
                    " transforms are Python (an expression of output); left out",
                )
                return False
            return True
        target = code[len(FILE) :]
        path_text, sep, function = target.rpartition(":") if ".py:" in target else (target, "", "")
        if not path_text.endswith(".py"):
            self.notes.add((*where, key), f"{code}: promptsuite runs Python files only; left out")
            return False
        path = (self.config_dir / path_text).resolve()
        relative = _relative(path, self.suite_dir)
        check[key] = f"{FILE}{relative}{sep}{function}"
        return True


def parse_compact(text: str) -> dict[str, Any]:
    """The CSV form ``type:value`` / ``type(threshold):value``; plain text is equals."""
    if text.startswith(FILE):
        return {"type": "python" if ".py" in text else "javascript", "value": text}
    match = _COMPACT.match(text)
    if match is None:
        return {"type": "equals", "value": text}
    type_ = match["type"]
    negated, base = split_type(type_)
    base = _COMPACT_ALIASES.get(base, base)
    known = base in known_types() or base in _SCRIPT_TYPES
    if not known and not match["threshold"]:
        return {"type": "equals", "value": text}
    check: dict[str, Any] = {"type": ("not-" if negated else "") + base}
    value: Any = match["value"]
    if base in {"is-json", "contains-json", "is-xml", "is-html", "is-sql", "is-refusal"}:
        value = value or None
    if value not in (None, ""):
        check["value"] = value
    if match["threshold"]:
        check["threshold"] = float(match["threshold"])
    return check


def _relative(path: Path, start: Path) -> str:
    import os

    return Path(os.path.relpath(path, start.resolve())).as_posix()


def python_transform(code: Any, where: Where, converter: AssertionConverter) -> str | None:
    """A test-level ``options.transform`` as a case transform, or None with a note
    (``where`` is the test's ``options``)."""
    holder = {"transform": code}
    if converter.python_code(holder, "transform", where):
        return str(holder["transform"])
    return None
