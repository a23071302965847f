"""Loading suite and prompt files into resolved, validated objects.

Every problem in a file is collected and reported at once, each as one line naming
``file:line:column``, the case id and the field, and what is expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from promptsuite import _schema as schema
from promptsuite.errors import ConfigError, SuiteLoadError
from promptsuite.models import GenerationParams, ModelSpec
from promptsuite.suite._located import location, validation_errors
from promptsuite.suite._model import Prompt, ResolvedCase, Suite, Variant
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

    seen_ids: dict[str, int] = {}
    cases: list[ResolvedCase] = []
    for i, case in enumerate(spec.cases):
        if case.id in seen_ids:
            problem(
                ("cases", i, "id"),
                f"duplicate case id {case.id!r} (first at case #{seen_ids[case.id] + 1})",
            )
        seen_ids.setdefault(case.id, i)
        checks = (*spec.defaults.expect, *case.expect)
        if case.transform is not None:
            for message in transform_problems(case.transform):
                problem(("cases", i, "transform"), message)
        for j, exp in enumerate(case.expect):
            for field, message in check_problems(exp):
                loc: tuple[int | str, ...] = ("cases", i, "expect", j)
                problem(loc + ((field,) if field else ()), message)
        cases.append(
            ResolvedCase(
                id=case.id,
                line=node_at(root, ("cases", i)).start_mark.line + 1,
                vars={**spec.defaults.vars, **case.vars},
                tags=tuple(dict.fromkeys((*spec.defaults.tags, *case.tags))),
                expect=checks,
                threshold=case.threshold if case.threshold is not None else spec.defaults.threshold,
                repeat=case.repeat or spec.defaults.repeat,
                description=case.description,
                reducer=case.reducer or spec.defaults.reducer,
                min_pass_rate=(
                    case.min_pass_rate
                    if case.min_pass_rate is not None
                    else spec.defaults.min_pass_rate
                ),
                reference=case.reference,
                transform=(
                    case.transform if case.transform is not None else spec.defaults.transform
                ),
            )
        )
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
