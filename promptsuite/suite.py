"""Loading suite and prompt files into resolved, validated objects.

Every problem in a file is collected and reported at once, each as one line naming
``file:line:column``, the case id and the field, and what is expected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from promptsuite import _schema as schema
from promptsuite.errors import ConfigError, Location, SuiteLoadError
from promptsuite.models._base import GenerationParams, ModelSpec
from promptsuite.template import check_syntax

#: Files larger than this are refused before parsing (a suite is hand-written text).
MAX_FILE_BYTES = 20 * 1024 * 1024
#: Values a document may hold once its aliases are expanded ("billion laughs" guard).
MAX_EXPANDED_NODES = 1_000_000


@dataclass(frozen=True)
class Variant:
    """A prompt variant, as ordered ``(role, template)`` pairs."""

    name: str
    templates: tuple[tuple[str, str], ...]
    description: str | None = None


@dataclass(frozen=True)
class Prompt:
    """A loaded prompt: its variants, one of them the default."""

    name: str
    file: str | None
    variants: Mapping[str, Variant]
    default: str


@dataclass(frozen=True)
class ResolvedCase:
    """A case with the suite defaults merged in."""

    id: str
    line: int
    vars: Mapping[str, Any]
    tags: tuple[str, ...]
    expect: tuple[schema.Expectation, ...]
    threshold: float | None
    repeat: int
    description: str | None = None
    reducer: str = "all-pass"
    min_pass_rate: float | None = None


@dataclass(frozen=True)
class Suite:
    """A loaded suite, ready to plan runs from."""

    name: str
    path: str
    description: str | None
    prompt: Prompt
    variants: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    params: GenerationParams
    cases: tuple[ResolvedCase, ...]


# ---------------------------------------------------------------- YAML with positions


_NESTING_HINT = "expected at most a few hundred levels"


def _yaml_error(exc: yaml.YAMLError, file: str, text: str) -> ConfigError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem = _one_line(exc.problem or "invalid YAML")
        if "nesting depth" in problem:  # PyYAML >= 6.0.4 caps nesting itself
            return ConfigError(f"YAML is nested too deeply ({problem}); {_NESTING_HINT}", loc)
        return ConfigError(f"YAML error: {problem}", loc)
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - before.rfind("\n")
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return ConfigError(
            f"YAML error: character #x{character:04x} is not allowed ({exc.reason}); "
            "expected printable text",
            Location(file, line, column),
        )
    return ConfigError(f"YAML error: {_one_line(str(exc))}", Location(file, 1, 1))


def _one_line(text: str) -> str:
    return " ".join(text.split())


# libyaml's parser is ~10x faster than the pure-Python one; both construct only plain data.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str, file: str) -> tuple[yaml.Node | None, Any]:
    """Parse once: the node tree (for positions and structure checks) and its plain data.

    Data is constructed from the checked tree, so an alias bomb is refused before it is
    ever expanded.
    """
    try:
        loader = _Loader(text)
        try:
            node: yaml.Node | None = loader.get_single_node()
            if node is None:
                return None, None
            errors: list[ConfigError] = []
            _check_structure(node, file, errors)
            if errors:
                raise SuiteLoadError(errors)
            return node, loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, text) from None
    except RecursionError:
        raise ConfigError(
            f"YAML is nested too deeply, or an alias refers to itself; {_NESTING_HINT}",
            Location(file, 1, 1),
        ) from None


def _check_structure(node: yaml.Node, file: str, errors: list[ConfigError]) -> None:
    """Refuse duplicate keys and alias bombs, which PyYAML would accept silently."""
    sizes: dict[int, int] = {}

    def expanded(current: yaml.Node) -> int:
        # Aliases share one node object, so memoising by id() measures the document as
        # it would be once expanded without ever expanding it.
        if id(current) in sizes:
            return sizes[id(current)]
        size = 1
        if isinstance(current, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in current.value:
                key = str(key_node.value)
                if key in keys:
                    mark = key_node.start_mark
                    errors.append(
                        ConfigError(
                            f"duplicate key {key!r}; each key may appear once",
                            Location(file, mark.line + 1, mark.column + 1),
                        )
                    )
                keys.add(key)
                size += 1 + expanded(value_node)
        elif isinstance(current, yaml.SequenceNode):
            size += sum(expanded(child) for child in current.value)
        sizes[id(current)] = size
        return size

    total = expanded(node)
    if total > MAX_EXPANDED_NODES:
        errors.append(
            ConfigError(
                f"document expands to {total} values through YAML aliases; expected at most "
                f"{MAX_EXPANDED_NODES} (is this an alias bomb?)",
                Location(file, 1, 1),
            )
        )


def _node_at(root: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node:
    """The deepest node along a pydantic error location (union tags are skipped)."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    node = value_node
                    break
            else:
                for key_node, _ in node.value:
                    if key_node.value == part:
                        node = key_node
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
    return node


def _key_node(root: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node | None:
    parent = _node_at(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if key_node.value == loc[-1]:
                found: yaml.Node = key_node
                return found
    return None


def _read(path: Path, display: str) -> tuple[yaml.Node, Any]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", Location(display)) from None
    if size > MAX_FILE_BYTES:
        raise ConfigError(
            f"file is {size} bytes; expected at most {MAX_FILE_BYTES}", Location(display, 1, 1)
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - before.rfind(b"\n")
        raise ConfigError(
            f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8",
            Location(display, line, column),
        ) from None
    node, data = _parse(text, display)
    if node is None:
        raise ConfigError("file is empty; expected a mapping", Location(display, 1, 1))
    if not isinstance(data, dict):
        mark = node.start_mark
        raise ConfigError(
            f"top level is a {type(data).__name__}; expected a mapping of fields",
            Location(display, mark.line + 1, mark.column + 1),
        )
    return node, data


# ---------------------------------------------------------------- pydantic errors


def _field_path(loc: tuple[int | str, ...], data: Any) -> tuple[str | None, str]:
    """(case id, dotted field path) for an error location."""
    case_id = None
    parts: list[str] = []
    current = data
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif isinstance(current, Mapping) and part in current:
            parts.append(f".{part}" if parts else part)
        else:
            continue  # a union tag, not a field
        if i >= 1 and loc[0] == "cases" and i == 1 and isinstance(current, list):
            entry = current[part] if isinstance(part, int) and part < len(current) else None
            if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                case_id = entry["id"]
        current = _step(current, part)
    return case_id, "".join(parts)


def _step(current: Any, part: int | str) -> Any:
    if isinstance(current, Mapping):
        return current.get(part)
    if isinstance(current, list) and isinstance(part, int) and part < len(current):
        return current[part]
    return None


def _describe(error: Mapping[str, Any], model: type[schema.BaseModel], loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc[:-1])
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown field {loc[-1]!r}{hint}"
    message = str(error["msg"])
    got = error.get("input")
    if kind.endswith("_type") or kind in {"model_type", "dict_type", "list_type"}:
        return f"{message} (got {type(got).__name__} {_short(got)})"
    return message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed_fields(model: type[schema.BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields and part in fields:
            current = _inner_model(fields[part].annotation)
        else:
            current = {
                "inline": schema.PromptFile,
                "ref": schema.PromptRef,
            }.get(str(part), current)
    fields = getattr(current, "model_fields", None) or {}
    return sorted(f.alias or name for name, f in fields.items())


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, schema.BaseModel):
        return annotation
    return None


def _validation_errors(
    exc: ValidationError,
    model: type[schema.BaseModel],
    root: yaml.Node,
    data: Any,
    file: str,
) -> list[ConfigError]:
    errors: list[ConfigError] = []
    seen: set[tuple[int, int]] = set()
    for error in exc.errors():
        loc = tuple(error["loc"])
        node = _key_node(root, loc) if error["type"] == "extra_forbidden" else None
        node = node or _node_at(root, loc)
        mark = node.start_mark
        position = (mark.line, mark.column)
        if position in seen:  # union branches repeat the same complaint
            continue
        seen.add(position)
        case_id, field = _field_path(loc, data)
        errors.append(
            ConfigError(
                _describe(error, model, loc),
                Location(file, mark.line + 1, mark.column + 1, case_id, field or None),
            )
        )
    return errors


def _location(root: yaml.Node, loc: tuple[int | str, ...], data: Any, file: str) -> Location:
    mark = _node_at(root, loc).start_mark
    case_id, field = _field_path(loc, data)
    return Location(file, mark.line + 1, mark.column + 1, case_id, field or None)


# ---------------------------------------------------------------- prompts


def _variant(name: str, spec: schema.PromptVariant) -> Variant:
    if spec.messages is not None:
        templates: tuple[tuple[str, str], ...] = tuple((m.role, m.content) for m in spec.messages)
    else:
        parts: list[tuple[str, str]] = []
        if spec.system is not None:
            parts.append(("system", spec.system))
        for example in spec.examples:
            parts.append(("user", example.user))
            parts.append(("assistant", example.assistant))
        if spec.user is not None:
            parts.append(("user", spec.user))
        templates = tuple(parts)
    return Variant(name, templates, spec.description)


def _variant_problems(
    spec: schema.PromptVariant, loc: tuple[int | str, ...]
) -> Iterator[tuple[tuple[int | str, ...], str]]:
    if spec.messages is not None:
        if spec.system is not None or spec.user is not None or spec.examples:
            yield (*loc, "messages"), "use either 'messages' or system/examples/user, not both"
        if not spec.messages:
            yield (*loc, "messages"), "list at least one message"
        for i, message in enumerate(spec.messages):
            problem = check_syntax(message.content)
            if problem:
                yield (*loc, "messages", i, "content"), problem
        return
    if spec.user is None and spec.system is None:
        yield loc, "a prompt needs a 'user' (or 'system') message template, or 'messages'"
    for key in ("system", "user"):
        text = getattr(spec, key)
        problem = check_syntax(text) if text is not None else None
        if problem:
            yield (*loc, key), problem
    for i, example in enumerate(spec.examples):
        for key in ("user", "assistant"):
            problem = check_syntax(getattr(example, key))
            if problem:
                yield (*loc, "examples", i, key), problem


def _build_prompt(
    spec: schema.PromptFile,
    default_name: str,
    file: str | None,
    root: yaml.Node,
    data: Any,
    display: str,
    base: tuple[int | str, ...],
) -> tuple[Prompt | None, list[ConfigError]]:
    errors: list[ConfigError] = []

    def problem(loc: tuple[int | str, ...], message: str) -> None:
        errors.append(ConfigError(message, _location(root, loc, data, display)))

    variants: dict[str, Variant] = {}
    if spec.variants is not None:
        has_top = spec.system or spec.user or spec.examples or spec.messages
        if has_top:
            problem((*base, "variants"), "put system/user/messages inside each variant")
        if not spec.variants:
            problem((*base, "variants"), "list at least one variant")
        for name, variant_spec in spec.variants.items():
            for loc, message in _variant_problems(variant_spec, (*base, "variants", name)):
                problem(loc, message)
            variants[name] = _variant(name, variant_spec)
        default = spec.default or next(iter(spec.variants), "default")
        if spec.variants and default not in spec.variants:
            known = ", ".join(spec.variants)
            problem((*base, "default"), f"default variant {default!r} is not one of: {known}")
    else:
        for loc, message in _variant_problems(spec, base):
            problem(loc, message)
        default = spec.default or "default"
        variants[default] = _variant(default, spec)
    if errors:
        return None, errors
    return Prompt(spec.name or default_name, file, variants, default), errors


_Model = TypeVar("_Model", bound=schema.BaseModel)


def _read_validated(path: Path, shown: str, model: type[_Model]) -> tuple[yaml.Node, Any, _Model]:
    root, data = _read(path, shown)
    try:
        return root, data, model.model_validate(data)
    except ValidationError as exc:
        raise SuiteLoadError(_validation_errors(exc, model, root, data, shown)) from None


def load_prompt(path: str | Path, *, display: str | None = None) -> Prompt:
    """Load a ``prompts/*.yaml`` file.

    Raises:
        ConfigError: naming file:line for the first problem, or SuiteLoadError for several.
    """
    path = Path(path)
    shown = display or str(path)
    root, data, spec = _read_validated(path, shown, schema.PromptFile)
    prompt, errors = _build_prompt(spec, path.stem, shown, root, data, shown, ())
    if errors or prompt is None:
        raise SuiteLoadError(errors)
    return prompt


# ---------------------------------------------------------------- suites


def load_suite(path: str | Path, *, display: str | None = None) -> Suite:
    """Load and validate a ``suites/*.yaml`` file and the prompt it references.

    Raises:
        SuiteLoadError: every problem found, each with file:line:column, case and field.
    """
    from promptsuite.assertions import expectation_problems
    from promptsuite.models._registry import parse_model_spec

    path = Path(path)
    shown = display or str(path)
    root, data, spec = _read_validated(path, shown, schema.SuiteFile)

    errors: list[ConfigError] = []

    def problem(loc: tuple[int | str, ...], message: str) -> None:
        errors.append(ConfigError(message, _location(root, loc, data, shown)))

    prompt, variants = _suite_prompt(spec, path, shown, root, data, problem, errors)

    models: list[ModelSpec] = []
    for i, ref in enumerate(spec.models):
        try:
            models.append(parse_model_spec(ref))
        except ConfigError as exc:
            problem(("models", i), exc.message)
    labels = [m.display for m in models]
    for label in {x for x in labels if labels.count(x) > 1}:
        problem(("models",), f"two models are both labelled {label!r}; give each a 'label'")

    seen_ids: dict[str, int] = {}
    cases: list[ResolvedCase] = []
    for i, case in enumerate(spec.cases):
        if case.id in seen_ids:
            problem(
                ("cases", i, "id"),
                f"duplicate case id {case.id!r} (first at case #{seen_ids[case.id] + 1})",
            )
        seen_ids.setdefault(case.id, i)
        expectations = (*spec.defaults.expect, *case.expect)
        for j, exp in enumerate(case.expect):
            for field, message in expectation_problems(exp):
                loc: tuple[int | str, ...] = ("cases", i, "expect", j)
                problem(loc + ((field,) if field else ()), message)
        cases.append(
            ResolvedCase(
                id=case.id,
                line=_node_at(root, ("cases", i)).start_mark.line + 1,
                vars={**spec.defaults.vars, **case.vars},
                tags=tuple(dict.fromkeys((*spec.defaults.tags, *case.tags))),
                expect=expectations,
                threshold=case.threshold if case.threshold is not None else spec.defaults.threshold,
                repeat=case.repeat or spec.defaults.repeat,
                description=case.description,
                reducer=case.reducer or spec.defaults.reducer,
                min_pass_rate=(
                    case.min_pass_rate
                    if case.min_pass_rate is not None
                    else spec.defaults.min_pass_rate
                ),
            )
        )
    for j, exp in enumerate(spec.defaults.expect):
        for field, message in expectation_problems(exp):
            problem(("defaults", "expect", j) + ((field,) if field else ()), message)

    if errors or prompt is None:
        raise SuiteLoadError(errors)
    defaults = spec.defaults
    return Suite(
        name=spec.name or path.stem,
        path=shown,
        description=spec.description,
        prompt=prompt,
        variants=variants,
        models=tuple(models),
        params=GenerationParams(
            temperature=defaults.temperature, max_tokens=defaults.max_tokens, seed=defaults.seed
        ),
        cases=tuple(cases),
    )


def _suite_prompt(
    spec: schema.SuiteFile,
    path: Path,
    shown: str,
    root: yaml.Node,
    data: Any,
    problem: Any,
    errors: list[ConfigError],
) -> tuple[Prompt | None, tuple[str, ...]]:
    ref = spec.prompt
    if isinstance(ref, schema.PromptFile):
        prompt, prompt_errors = _build_prompt(
            ref, spec.name or path.stem, None, root, data, shown, ("prompt",)
        )
        errors.extend(prompt_errors)
        return prompt, (prompt.default,) if prompt else ()
    file, wanted = (ref, None) if isinstance(ref, str) else (ref.file, ref.variants)
    loc: tuple[int | str, ...] = ("prompt",) if isinstance(ref, str) else ("prompt", "file")
    prompt_path = (path.parent / file).resolve()
    if not prompt_path.is_file():
        problem(loc, f"prompt file {file!r} not found (looked at {prompt_path})")
        return None, ()
    try:
        prompt = load_prompt(prompt_path, display=_display_path(prompt_path))
    except ConfigError as exc:
        # One line per problem of the prompt file, each led by where the suite refers to it.
        inner = exc.errors if isinstance(exc, SuiteLoadError) else [exc]
        location = _location(root, loc, data, shown)
        errors.extend(ConfigError(f"in prompt file: {e}", location) for e in inner)
        return None, ()
    if wanted is None:
        return prompt, (prompt.default,)
    if not wanted:
        problem(("prompt", "variants"), "list at least one variant")
    for i, name in enumerate(wanted):
        if name not in prompt.variants:
            known = ", ".join(prompt.variants)
            problem(("prompt", "variants", i), f"variant {name!r} is not in {file}; known: {known}")
    return prompt, tuple(dict.fromkeys(wanted))


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
