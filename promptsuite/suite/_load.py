"""Loading suite and prompt files into resolved, validated objects.

Every problem in a file is collected and reported at once, each as one line naming
``file:line:column``, the case id and the field, and what is expected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from promptsuite import _schema as schema
from promptsuite.errors import ConfigError, Location, SuiteLoadError
from promptsuite.models import GenerationParams, ModelSpec
from promptsuite.suite._expand import missing_columns, render_checks, row_case
from promptsuite.suite._located import location, validation_errors
from promptsuite.suite._model import Prompt, ResolvedCase, Suite, Turn, Variant
from promptsuite.suite._rows import read_rows
from promptsuite.suite._yaml import node_at, read_yaml
from promptsuite.template import check_syntax


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
    tools = tuple(t.model_dump(exclude_none=True) for t in spec.tools or ())
    response_format = (
        spec.response_format.model_dump(by_alias=True, exclude_none=True)
        if spec.response_format is not None
        else None
    )
    return Variant(name, templates, spec.description, tools, response_format)


def _variant_problems(
    spec: schema.PromptVariant, loc: tuple[int | str, ...]
) -> Iterator[tuple[tuple[int | str, ...], str]]:
    names = [t.function.name for t in spec.tools or ()]
    for i, name in enumerate(names):
        if name in names[:i]:
            yield (*loc, "tools", i, "function", "name"), f"tool {name!r} is declared twice"
    for i, tool in enumerate(spec.tools or ()):
        parameters = tool.function.parameters
        if parameters is not None and parameters.get("type", "object") != "object":
            yield (
                (*loc, "tools", i, "function", "parameters"),
                "a tool's parameters must be an object schema (type: object)",
            )
    rf = spec.response_format
    if rf is not None and rf.type == "json_schema" and rf.json_schema is None:
        yield (*loc, "response_format"), "type json_schema needs a json_schema: {name, schema}"
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
        errors.append(ConfigError(message, location(root, loc, data, display)))

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
    root, data = read_yaml(path, shown)
    try:
        return root, data, model.model_validate(data)
    except ValidationError as exc:
        raise SuiteLoadError(validation_errors(exc, model, root, data, shown)) from None


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


def load_suite(path: str | Path, *, display: str | None = None) -> Suite:
    """Load and validate a ``suites/*.yaml`` file and the prompt it references.

    Raises:
        SuiteLoadError: every problem found, each with file:line:column, case and field.
    """
    from promptsuite.checks import check_problems, transform_problems
    from promptsuite.models import parse_model_spec

    path = Path(path)
    shown = display or str(path)
    root, data, spec = _read_validated(path, shown, schema.SuiteFile)

    errors: list[ConfigError] = []

    def problem(loc: tuple[int | str, ...], message: str) -> None:
        errors.append(ConfigError(message, location(root, loc, data, shown)))

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

    tools = (
        frozenset(
            n for v in variants if v in prompt.variants for n in prompt.variants[v].tool_names
        )
        if prompt is not None
        else None
    )
    seen_ids: dict[str, Place] = {}  # where each case id first appears, placed when repeated
    cases: list[ResolvedCase] = []
    for i, entry in enumerate(spec.cases):
        line = node_at(root, ("cases", i)).start_mark.line + 1
        if isinstance(entry, schema.CaseRows):
            expanded = _row_cases(entry, path, shown, line, errors)
        else:
            expanded = [(entry, _suite_place(root, data, shown, ("cases", i)))]
        # A mistake in a data-file entry's checks shows once, at its first row, not per row.
        shown_messages: set[str] = set()
        for case, place in expanded:
            if case.id in seen_ids:
                first = _short_place(seen_ids[case.id](()))
                errors.append(
                    ConfigError(f"duplicate case id {case.id!r} (first at {first})", place(("id",)))
                )
            seen_ids.setdefault(case.id, place)
            own: list[ConfigError] = []
            resolved = _resolve_case(spec, case, line, place, own, tools)
            if isinstance(entry, schema.CaseRows):
                own = [e for e in own if e.message not in shown_messages]
                shown_messages.update(e.message for e in own)
            errors.extend(own)
            if resolved is not None:
                cases.append(resolved)
    if spec.defaults.transform is not None:
        for message in transform_problems(spec.defaults.transform):
            problem(("defaults", "transform"), message)
    for j, exp in enumerate(spec.defaults.expect):
        for field, message in check_problems(exp):
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


Place = Callable[[tuple[int | str, ...]], Location]


def _suite_place(root: yaml.Node, data: Any, shown: str, base: tuple[int | str, ...]) -> Place:
    return lambda loc: location(root, (*base, *loc), data, shown)


def _short_place(where: Location) -> str:
    return f"{where.file}:{where.line}" if where.line is not None else where.file


def _dotted(loc: tuple[int | str, ...]) -> str | None:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return text or None


def _resolve_case(
    spec: schema.SuiteFile,
    case: schema.Case,
    line: int,
    place: Place,
    errors: list[ConfigError],
    tools: frozenset[str] | None = None,
) -> ResolvedCase | None:
    """``case`` with the suite defaults merged in and its checks templated over its vars."""
    from promptsuite.checks import check_problems, transform_problems

    variables = {**spec.defaults.vars, **case.vars}
    count = len(errors)
    own, problems = render_checks(tuple(case.expect), variables)
    errors.extend(ConfigError(message, place(("expect",))) for message in problems)
    inherited, problems = render_checks(tuple(spec.defaults.expect), variables, "defaults.expect")
    errors.extend(ConfigError(message, place(())) for message in problems)
    if case.transform is not None:
        for message in transform_problems(case.transform):
            errors.append(ConfigError(message, place(("transform",))))
    for j, exp in enumerate(own):
        for field, message in check_problems(exp):
            errors.append(ConfigError(message, place(("expect", j, *((field,) if field else ())))))
    turns = _turns(case, variables, place, errors, tools)
    if tools is not None and not tools:
        for where, specs in [
            (("expect",), own),
            *((("turns", t, "expect"), turn.expect) for t, turn in enumerate(turns)),
        ]:
            if _needs_a_call(specs):
                errors.append(
                    ConfigError(
                        "a tool-call check, but the prompt declares no tools, so the model can "
                        "never call one; declare them under the prompt's 'tools'",
                        place(where),
                    )
                )
    for name in case.tool_results or {}:
        if tools is not None and name not in tools:
            errors.append(ConfigError(_undeclared(name, tools), place(("tool_results", name))))
    if len(errors) > count:
        return None
    return ResolvedCase(
        id=case.id,
        line=line,
        vars=variables,
        tags=tuple(dict.fromkeys((*spec.defaults.tags, *case.tags))),
        expect=(*inherited, *own),
        threshold=case.threshold if case.threshold is not None else spec.defaults.threshold,
        repeat=case.repeat or spec.defaults.repeat,
        description=case.description,
        reducer=case.reducer or spec.defaults.reducer,
        min_pass_rate=(
            case.min_pass_rate if case.min_pass_rate is not None else spec.defaults.min_pass_rate
        ),
        reference=case.reference,
        transform=case.transform if case.transform is not None else spec.defaults.transform,
        turns=turns,
        response_format=(
            case.response_format.model_dump(by_alias=True, exclude_none=True)
            if case.response_format is not None
            else None
        ),
    )


#: Checks that can only pass when the model calls a tool.
_CALLING_CHECKS = frozenset({"tool-called", "tool-args", "tool-args-exact", "tool-order"})


def _needs_a_call(specs: tuple[schema.CheckSpec, ...] | list[schema.CheckSpec]) -> bool:
    """Whether a check passes only on a tool call (``not-tool-called`` does not)."""
    return any(s.type in _CALLING_CHECKS or _needs_a_call(s.checks or []) for s in specs)


def _undeclared(name: str, tools: frozenset[str]) -> str:
    declared = ", ".join(sorted(tools)) or "none"
    return (
        f"a result for tool {name!r}, which the prompt does not declare, so the model can "
        f"never call it; declared tools: {declared}"
    )


def _turns(
    case: schema.Case,
    variables: dict[str, Any],
    place: Place,
    errors: list[ConfigError],
    tools: frozenset[str] | None,
) -> tuple[Turn, ...]:
    """A conversation's turns, checked: one role each, templates that parse, known tools."""
    from promptsuite.checks import check_problems

    if case.turns is None:
        return ()
    if not case.turns:
        errors.append(ConfigError("list at least one turn", place(("turns",))))
    elif all(turn.user is None for turn in case.turns):
        errors.append(ConfigError("a conversation needs at least one user turn", place(("turns",))))
    turns: list[Turn] = []
    for t, turn in enumerate(case.turns):
        at: tuple[int | str, ...] = ("turns", t)
        if (turn.user is None) == (turn.assistant is None):
            errors.append(ConfigError("give a turn either 'user' or 'assistant'", place(at)))
            continue
        role, text = ("user", turn.user) if turn.user is not None else ("assistant", turn.assistant)
        assert text is not None
        problem = check_syntax(text)
        if problem:
            errors.append(ConfigError(problem, place((*at, role))))
        if role == "assistant" and (turn.expect or turn.tool_results or turn.reference):
            field = (
                "expect" if turn.expect else "tool_results" if turn.tool_results else "reference"
            )
            errors.append(
                ConfigError(
                    f"a fixed assistant turn is not generated, so it takes no {field}; put it "
                    "on the user turn before",
                    place((*at, field)),
                )
            )
        for name in turn.tool_results or {}:
            if tools is not None and name not in tools:
                errors.append(ConfigError(_undeclared(name, tools), place((*at, "tool_results"))))
        expect, problems = render_checks(tuple(turn.expect), variables, f"turns[{t}].expect")
        errors.extend(ConfigError(message, place((*at, "expect"))) for message in problems)
        for j, exp in enumerate(expect):
            for field_name, message in check_problems(exp):
                where = (*at, "expect", j, *((field_name,) if field_name else ()))
                errors.append(ConfigError(message, place(where)))
        results = {**(case.tool_results or {}), **(turn.tool_results or {})}
        if turn.reference is not None and check_syntax(turn.reference):
            errors.append(ConfigError(str(check_syntax(turn.reference)), place((*at, "reference"))))
        turns.append(Turn(role, text, expect, results, turn.reference))
    return tuple(turns)


def _row_cases(
    entry: schema.CaseRows, path: Path, shown: str, line: int, errors: list[ConfigError]
) -> list[tuple[schema.Case, Place]]:
    """The cases of a data file's rows, each with a place in the data file for its errors."""
    data_path = (path.parent / entry.file).resolve()
    # Shown beside the suite as the user sees it (suites/x.yaml -> data/rows.csv).
    display = os.path.normpath(os.path.join(os.path.dirname(shown), entry.file))
    where = f"{shown}:{line}"
    if not data_path.is_file():
        errors.append(
            ConfigError(
                f"data file {entry.file!r} not found (looked at {data_path})",
                Location(shown, line, None, None, "file"),
            )
        )
        return []
    try:
        table = read_rows(data_path, display)
    except ConfigError as exc:
        errors.append(ConfigError(f"{exc.message} (cases of {where})", exc.location))
        return []
    missing = list(missing_columns(entry, table))
    for name, role in missing:
        known = ", ".join(table.columns)
        errors.append(
            ConfigError(
                f"no column {name!r} ({role} in {where}); the file's columns are: {known}",
                Location(display, 1, None, None, name),
            )
        )
    if missing:
        return []
    cases: list[tuple[schema.Case, Place]] = []
    for row in table.rows:
        fields, problems = row_case(entry, row, table, data_path.stem)
        case_id = fields["id"]

        def place(
            loc: tuple[int | str, ...], row_line: int = row.line, cid: str = case_id
        ) -> Location:
            return Location(display, row_line, None, cid, _dotted(loc))

        for column, message in problems:
            errors.append(ConfigError(message, Location(display, row.line, None, case_id, column)))
        try:
            case = schema.Case.model_validate(fields)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                errors.append(ConfigError(str(error["msg"]), place(loc)))
            continue
        if not problems:
            cases.append((case, place))
    return cases


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
        where = location(root, loc, data, shown)
        errors.extend(ConfigError(f"in prompt file: {e}", where) for e in inner)
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
