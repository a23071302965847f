"""``promptsuite import promptfooconfig.yaml``: a promptfoo config as a prompt file and a suite.

What it carries over: prompts (inline, ``file://``, lists, ``---``-separated files, JSON and
YAML chats, also those valid only once rendered; Nunjucks filters as Jinja2's) as variants
of one prompt file; OpenAI and OpenAI-compatible providers as models (their temperature,
max_tokens and seed as suite defaults); ``tests`` inline or from CSV,
JSON, JSONL and YAML files (CSV ``__expected`` columns included); ``defaultTest`` as the
suite defaults; vars (lists expand into one case per combination, as promptfoo does);
every assertion promptsuite has a check for, with weights, thresholds, metrics, ``not-``
forms, ``assert-set`` and Python transforms. Everything else is listed, one located line
each; nothing is dropped silently.

The prompts (``_prompts``, with the Nunjucks filters of ``_nunjucks``), the assertion
mapping (``_assertions``), the provider mapping (``_providers``) and the located notes and
file reading (``_notes``) live apart; this module is the translation, top-level key by key.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from promptsuite.errors import ConfigError, PromptsuiteError
from promptsuite.promptfoo._assertions import (
    FILE,
    AssertionConverter,
    parse_compact,
    python_transform,
)
from promptsuite.promptfoo._notes import Notes, Where, globbed, read_all, read_file
from promptsuite.promptfoo._prompts import prompt_document, prompt_variants, slug
from promptsuite.promptfoo._providers import Converted, convert_provider
from promptsuite.suite import load_suite, read_yaml

_TOP_LEVEL = {"description", "prompts", "providers", "tests", "defaultTest", "scenarios"}
_TOP_LEVEL |= {"evaluateOptions", "outputPath", "sharing", "env", "writeLatestResults"}
_TOP_LEVEL |= {"assertionTemplates"}
_TEST_FIELDS = {"description", "vars", "assert", "threshold", "options", "metadata"}
_CSV_SPECIAL = re.compile(r"^__expected\d*$")
_MAX_CASES = 10_000


@dataclass
class ImportResult:
    """What an import wrote and what it could not carry over.

    Attributes:
        prompt_file: The prompt file written.
        suite_file: The suite file written.
        cases: How many cases the suite has.
        notes: One line per thing not converted (or converted with a change).
        problems: Load problems of the written suite, if it does not validate.
    """

    prompt_file: Path
    suite_file: Path
    cases: int
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def import_config(
    config: str | Path, out: str | Path = ".", name: str | None = None
) -> ImportResult:
    """Convert a promptfoo config into ``<out>/prompts/<name>.yaml`` and
    ``<out>/suites/<name>.yaml``.

    Args:
        config: The promptfoo config (``promptfooconfig.yaml``).
        out: The folder that gets ``prompts/`` and ``suites/``.
        name: The name of both files (default: from the config's description, else its
            folder).

    Raises:
        ConfigError: The config cannot be read or has no prompt; one located line.
    """
    path = Path(config)
    root, data = read_yaml(path, str(path))
    notes = Notes(str(path), root)
    base = name or slug(str(data.get("description") or path.resolve().parent.name), "imported")
    out_dir = Path(out)
    suites_dir, prompts_dir = out_dir / "suites", out_dir / "prompts"
    for key in sorted(set(data) - _TOP_LEVEL):
        notes.add((key,), f"{key!r} is not carried over")
    for key in ("scenarios", "env"):
        if key in data:
            notes.add((key,), f"{key!r} is not carried over")
    default_test = data.get("defaultTest") or {}
    if isinstance(default_test, str):
        notes.add(("defaultTest",), "defaultTest from a file is not read; left out")
        default_test = {}
    options = default_test.get("options") or {}
    templates = data.get("assertionTemplates")
    converter = AssertionConverter(
        notes,
        path.parent,
        suites_dir,
        options.get("provider"),
        templates if isinstance(templates, dict) else None,
    )
    variants = prompt_variants(data.get("prompts"), path.parent, notes)
    if not variants:
        raise ConfigError(f"{path}: no prompt could be converted; nothing written")
    models, params = _models(data.get("providers"), notes)
    defaults = _defaults(default_test, params, converter, notes)
    cases = _cases(data.get("tests"), path.parent, converter, notes)
    if not cases:
        cases = [{"id": "case-1", "description": "the prompt with the default vars"}]
        notes.add(("tests",), "no test could be converted; wrote one case with the default vars")
    prompt_doc = prompt_document(base, variants)
    suite_doc: dict[str, Any] = {"name": base}
    if data.get("description"):
        suite_doc["description"] = str(data["description"])
    prompt_ref = f"../prompts/{base}.yaml"
    suite_doc["prompt"] = (
        {"file": prompt_ref, "variants": list(variants)} if len(variants) > 1 else prompt_ref
    )
    if models:
        suite_doc["models"] = models
    if defaults:
        suite_doc["defaults"] = defaults
    suite_doc["cases"] = cases
    prompts_dir.mkdir(parents=True, exist_ok=True)
    suites_dir.mkdir(parents=True, exist_ok=True)
    prompt_file = prompts_dir / f"{base}.yaml"
    suite_file = suites_dir / f"{base}.yaml"
    header = f"# Imported from {path.name} by `promptsuite import`.\n"
    prompt_file.write_text(header + _dump(prompt_doc), encoding="utf-8")
    suite_file.write_text(header + _dump(suite_doc), encoding="utf-8")
    result = ImportResult(prompt_file, suite_file, len(cases), notes.lines)
    try:
        load_suite(suite_file)
    except PromptsuiteError as err:
        result.problems = str(err).splitlines()
    return result


class _Dumper(yaml.SafeDumper):
    """Writes every value out (no anchors), multi-line text as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text and not any(ord(c) < 32 and c != "\n" for c in text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


# --- providers ------------------------------------------------------------------------------


def _models(raw: Any, notes: Notes) -> tuple[list[Any], dict[str, Any]]:
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    converted: list[Converted] = []
    for i, item in enumerate(items):
        where: Where = ("providers", i) if isinstance(raw, list) else ("providers",)
        if isinstance(item, dict) and "id" not in item and len(item) == 1:
            ident, config = next(iter(item.items()))
            item = {"id": ident, **(config if isinstance(config, dict) else {})}
        model = convert_provider(item, where, notes)
        if model is not None:
            converted.append(model)
    if items and not converted:
        notes.add(("providers",), "no provider could be converted; the suite runs on local")
    params: dict[str, Any] = {}
    for key in ("temperature", "max_tokens", "seed"):
        values = {json.dumps(m.params.get(key)) for m in converted}
        if len(values) == 1 and converted[0].params.get(key) is not None:
            params[key] = converted[0].params[key]
        elif len(values) > 1:
            notes.add(
                ("providers",), f"providers set different {key}; promptsuite uses one per suite"
            )
    return [m.model for m in converted], params


# --- tests ----------------------------------------------------------------------------------


def _defaults(
    default_test: dict[str, Any],
    params: dict[str, Any],
    converter: AssertionConverter,
    notes: Notes,
) -> dict[str, Any]:
    defaults: dict[str, Any] = dict(params)
    where: Where = ("defaultTest",)
    for key in sorted(set(default_test) - _TEST_FIELDS):
        notes.add((*where, key), f"{key!r} is not carried over")
    if isinstance(default_test.get("vars"), dict):
        defaults["vars"] = _file_vars(
            default_test["vars"], converter.config_dir, (*where, "vars"), None, notes
        )
    expect = converter.convert_all(default_test.get("assert"), (*where, "assert"))
    if expect:
        defaults["expect"] = expect
    if default_test.get("threshold") is not None:
        defaults["threshold"] = default_test["threshold"]
    options = default_test.get("options") or {}
    transform = options.get("transform") or options.get("postprocess")
    if transform is not None:
        converted = python_transform(transform, (*where, "options"), converter)
        if converted:
            defaults["transform"] = converted
    for key in sorted(set(options) - {"transform", "postprocess", "provider"}):
        notes.add((*where, "options", key), f"option {key!r} is not carried over")
    return defaults


def _cases(
    raw: Any, config_dir: Path, converter: AssertionConverter, notes: Notes
) -> list[dict[str, Any]]:
    tests: list[tuple[Any, Where, Path | None]] = []
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    for i, item in enumerate(items):
        where: Where = ("tests", i) if isinstance(raw, list) else ("tests",)
        if isinstance(item, str):
            tests.extend(_tests_from_file(item, config_dir, where, notes))
        else:
            tests.append((item, where, None))
    cases: list[dict[str, Any]] = []
    ids: set[str] = set()
    for test, where, source in tests:
        for case in _case(test, where, source, converter, notes):
            base = case["id"]
            n = 2
            while case["id"] in ids:
                case["id"] = f"{base}-{n}"
                n += 1
            ids.add(case["id"])
            cases.append(case)
            if len(cases) >= _MAX_CASES:
                notes.add(where, f"stopped after {_MAX_CASES} cases")
                return cases
    return cases


def _tests_from_file(
    ref: str, config_dir: Path, where: Where, notes: Notes
) -> list[tuple[Any, Where, Path | None]]:
    paths = globbed(config_dir, ref[len(FILE) :] if ref.startswith(FILE) else ref)
    found: list[tuple[Any, Where, Path | None]] = []
    for path, text in read_all(paths, f"{ref}: no tests file at", where, notes):
        if path.suffix == ".csv":
            try:
                rows = list(csv.DictReader(text.splitlines()))
            except csv.Error as err:
                notes.add(where, f"{ref}: not CSV ({err}); left out")
                continue
            found.extend((_csv_test(row), ("row", n + 2), path) for n, row in enumerate(rows))
        elif path.suffix == ".jsonl":
            for n, line in enumerate(text.splitlines()):
                if not line.strip():
                    continue
                try:
                    found.append((_jsonl_test(json.loads(line)), ("line", n + 1), path))
                except ValueError as err:
                    notes.add(("line", n + 1), f"not JSON ({err}); left out", file=path)
        elif path.suffix in {".yaml", ".yml", ".json"}:
            loaded = read_file(path, notes, where, parse=True)
            if loaded is None:
                continue
            items = loaded if isinstance(loaded, list) else [loaded]
            found.extend((item, (n,), path) for n, item in enumerate(items))
        else:
            notes.add(
                where, f"{ref}: tests from {path.suffix or 'this'} files are not read; left out"
            )
    return found


def _csv_test(row: dict[str, str]) -> dict[str, Any]:
    test: dict[str, Any] = {"vars": {}, "assert": []}
    for column, cell in row.items():
        if column is None:
            continue
        if _CSV_SPECIAL.match(column):
            if cell and cell.strip():
                test["assert"].append(cell.strip())
        elif column == "__description":
            test["description"] = cell
        elif column == "__threshold":
            test["threshold"] = float(cell) if cell else None
        elif column == "__metric":
            test["_metric"] = cell
        elif not column.startswith("__"):
            test["vars"][column] = cell
    metric = test.pop("_metric", None)
    test["assert"] = [
        parse_compact(a) | ({"metric": metric} if metric else {}) for a in test["assert"]
    ]
    return test


def _jsonl_test(item: Any) -> Any:
    if isinstance(item, dict) and not ({"vars", "assert", "description"} & set(item)):
        return {"vars": item}
    return item


def _case(
    test: Any, where: Where, source: Path | None, converter: AssertionConverter, notes: Notes
) -> list[dict[str, Any]]:
    file = source
    if not isinstance(test, dict):
        _note(notes, where, file, "a test must be a mapping; left out")
        return []
    for key in sorted(set(test) - _TEST_FIELDS):
        _note(notes, (*where, key), file, f"{key!r} is not carried over")
    options = test.get("options") or {}
    raws = test.get("assert")
    saved = converter.notes
    if file is not None:
        converter.notes = _FileNotes(saved, file)
    try:
        expect = converter.convert_all(raws, (*where, "assert"), options.get("provider"))
        transform = options.get("transform") or options.get("postprocess")
        converted = (
            python_transform(transform, (*where, "options"), converter)
            if transform is not None
            else None
        )
    finally:
        converter.notes = saved
    case: dict[str, Any] = {}
    description = test.get("description")
    if description:
        case["description"] = str(description)
    if test.get("threshold") is not None:
        case["threshold"] = test["threshold"]
    if converted:
        case["transform"] = converted
    for key in sorted(set(options) - {"transform", "postprocess", "provider"}):
        _note(notes, (*where, "options", key), file, f"option {key!r} is not carried over")
    if expect:
        case["expect"] = expect
    variables = test.get("vars") or {}
    if not isinstance(variables, dict):
        _note(notes, (*where, "vars"), file, "vars must be a mapping; left out")
        variables = {}
    base_dir = file.parent if file is not None else converter.config_dir
    variables = _file_vars(variables, base_dir, (*where, "vars"), file, notes)
    combos = _expand(variables)
    n = len(combos)
    cases = []
    base_id = (
        slug(str(description), f"case-{_number(where)}")
        if description
        else f"case-{_number(where)}"
    )
    for k, combo in enumerate(combos):
        one = {"id": base_id if n == 1 else f"{base_id}-{k + 1}", **case}
        if combo:
            one["vars"] = combo
        cases.append(dict(sorted(one.items(), key=lambda kv: _FIELD_ORDER.get(kv[0], 9))))
    return cases


_FIELD_ORDER = {"id": 0, "description": 1, "vars": 2, "threshold": 3, "transform": 4, "expect": 5}


def _file_vars(
    variables: dict[str, Any], base: Path, where: Where, file: Path | None, notes: Notes
) -> dict[str, Any]:
    """Vars as promptfoo reads them: a ``file://`` text file's content, a JSON or YAML file's
    data; script files are noted and kept as written."""
    loaded: dict[str, Any] = {}
    for name, value in variables.items():
        values = value if isinstance(value, list) else [value]
        out = []
        for item in values:
            if isinstance(item, str) and item.startswith(FILE):
                path = base / item[len(FILE) :]
                if path.suffix in {".py", ".js", ".ts", ".mjs", ".cjs"} or not path.is_file():
                    why = "is a script" if path.is_file() else "is not there"
                    _note(notes, (*where, name), file, f"{item}: {why}; kept as text")
                    out.append(item)
                    continue
                parse = path.suffix in {".json", ".yaml", ".yml"}
                content = read_file(path, notes, (*where, name), parse=parse, file=file)
                out.append(item if content is None else content)
            else:
                out.append(item)
        loaded[name] = out if isinstance(value, list) else out[0]
    return loaded


def _number(where: Where) -> int:
    last = next((p for p in reversed(where) if isinstance(p, int)), 0)
    return int(last) + 1


def _expand(variables: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo's var lists: one combination per element of each list-valued var."""
    keys = list(variables)
    lists = [v if isinstance(v, list) else [v] for v in variables.values()]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*lists)] or [{}]


def _note(notes: Notes, where: Where, file: Path | None, message: str) -> None:
    notes.add(where, message, file=file)


class _FileNotes(Notes):
    """Notes about assertions read from a tests file: located in that file."""

    def __init__(self, inner: Notes, file: Path) -> None:
        super().__init__(inner.file, None, inner.lines)
        self._source = file

    def add(self, where: Where, message: str, *, file: str | Path | None = None) -> None:
        super().add(where, message, file=file or self._source)
