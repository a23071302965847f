"""Writing candidates back into the user's prompt file as named variants.

The file is edited as text, not re-dumped, so its comments, order and quoting survive:
new variants are appended to the ``variants`` mapping. A file without ``variants`` (one
top-level variant) first has its ``system`` / ``examples`` / ``user`` / ``messages`` /
``tools`` / ``response_format`` moved, as written, under ``variants: {<its name>: ...}``,
which loads to the same variant. Adding variants never changes the user's default;
:func:`write_default` does. The result is loaded with :func:`promptsuite.suite.load_prompt`
and compared with what was meant before it replaces the file; on any mismatch the file is
left untouched.

A file that cannot be edited so (flow style such as JSON, read-only, a layout the edit does
not survive, a write that fails) keeps its text: :func:`add_variants` then writes a new
prompt file beside it (:func:`write_beside`) with the file's variants and the new ones, so
a finished search is never lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptsuite._files import atomic_writer
from promptsuite.errors import ConfigError, Location, PromptsuiteError
from promptsuite.optimize._shape import Templates
from promptsuite.suite import Variant, load_prompt

__all__ = [
    "NewVariant",
    "WriteBack",
    "add_variants",
    "unique_names",
    "variant_data",
    "write_beside",
    "write_default",
    "write_variants",
]

_VARIANT_KEYS = ("system", "examples", "user", "messages", "tools", "response_format")
_BLOCK_ONLY = "the optimizer edits block-style YAML only, to keep the file's text"
_FLOW_STYLE = f"it is written in flow style ({{...}}, as JSON is); {_BLOCK_ONLY}"


@dataclass(frozen=True)
class NewVariant:
    """A variant to add: its name, templates and a one-line description."""

    name: str
    templates: Templates
    description: str


def unique_names(existing: Iterable[str], base: str, count: int) -> list[str]:
    """``count`` names ``base-1``, ``base-2``... not already in ``existing``."""
    taken = set(existing)
    names: list[str] = []
    number = 1
    while len(names) < count:
        name = f"{base}-{number}"
        if name not in taken:
            names.append(name)
            taken.add(name)
        number += 1
    return names


def variant_data(variant: NewVariant) -> dict[str, Any]:
    """The variant as prompt-file data: system/examples/user when it has that shape."""
    return {"description": variant.description, **_template_fields(variant.templates)}


def _template_fields(templates: Templates) -> dict[str, Any]:
    data: dict[str, Any] = {}
    rest = list(templates)
    system = rest.pop(0)[1] if rest and rest[0][0] == "system" else None
    last = rest.pop()[1] if rest and rest[-1][0] == "user" else None
    pairs = rest
    regular = (
        last is not None
        and len(pairs) % 2 == 0
        and all(
            pairs[i][0] == "user" and pairs[i + 1][0] == "assistant"
            for i in range(0, len(pairs), 2)
        )
    )
    if not regular:
        return {"messages": [{"role": role, "content": text} for role, text in templates]}
    if system is not None:
        data["system"] = system
    if pairs:
        data["examples"] = [
            {"user": pairs[i][1], "assistant": pairs[i + 1][1]} for i in range(0, len(pairs), 2)
        ]
    data["user"] = last
    return data


def _loaded_variant_data(variant: Variant) -> dict[str, Any]:
    """A loaded variant as prompt-file data that loads back to it."""
    data: dict[str, Any] = {}
    if variant.description is not None:
        data["description"] = variant.description
    data.update(_template_fields(variant.templates))
    if variant.tools:
        data["tools"] = list(variant.tools)
    if variant.response_format is not None:
        data["response_format"] = variant.response_format
    return data


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, like a person would."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def _dump(data: dict[str, Any], indent: int) -> list[str]:
    text = yaml.dump(
        data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=1_000_000, indent=2
    )
    pad = " " * indent
    return [pad + line if line.strip() else line for line in text.splitlines(keepends=True)]


def _end_line(node: yaml.Node) -> int:
    """The 0-based line after the node's last line (comments after it are not its lines)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    mark = node.end_mark
    return mark.line if mark.column == 0 else mark.line + 1


def _compose_mapping(text: str, path: Path) -> yaml.MappingNode:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        # The edit assumed a layout the file does not have (a document end marker, say).
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(
            f"its layout is one the edit does not survive (the edited text would not parse: "
            f"{problem})",
            Location(str(path)),
        ) from None
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError("expected a mapping at the top level", Location(str(path)))
    return root


def _top_level(root: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {str(key.value): (key, value) for key, value in root.value}


def write_variants(path: str | Path, variants: Sequence[NewVariant]) -> None:
    """Append ``variants`` to a prompt file; its default stays as it is.

    Raises:
        ConfigError: the file cannot be edited safely (flow-style mapping, read-only, a name
            already used, or the edited file would not load to the intended variants).
        OSError: the edited file could not be written (the file is left as it was).
    """
    path = Path(path)
    _refuse_read_only(path)
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    lines = text.splitlines(keepends=True)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise ConfigError(_FLOW_STYLE, Location(str(path)))
    before = load_prompt(path)
    _refuse_used_names(path, before.variants, variants)
    keys = _top_level(root)
    if "variants" not in keys:
        lines = _nest_single_variant(lines, keys, before.default)
        keys = _top_level(_compose_mapping("".join(lines), path))
    variants_node = keys["variants"][1]
    if not isinstance(variants_node, yaml.MappingNode) or variants_node.flow_style:
        raise ConfigError(f"'variants' is a flow-style mapping; {_BLOCK_ONLY}", Location(str(path)))
    indent = variants_node.value[0][0].start_mark.column if variants_node.value else 2
    added: list[str] = []
    for variant in variants:
        added.extend(_dump({variant.name: variant_data(variant)}, indent))
    at = _end_line(variants_node)
    lines = lines[:at] + added + lines[at:]
    _write_checked(path, "".join(lines), _expected(before.variants, variants), before.default)


def write_default(path: str | Path, name: str) -> None:
    """Make variant ``name`` the prompt file's default.

    Raises:
        ConfigError: the variant does not exist, or the file cannot be edited safely.
        OSError: the edited file could not be written (the file is left as it was).
    """
    path = Path(path)
    _refuse_read_only(path)
    before = load_prompt(path)
    if name not in before.variants:
        raise ConfigError(f"no variant {name!r} to make the default", Location(str(path)))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    _write_checked(path, "".join(_set_default(lines, name, path)), before.variants, name)


def _beside_path(path: Path) -> Path:
    """A free name beside a prompt file: ``NAME.optimized.yaml``, ``NAME.optimized-2.yaml``..."""
    candidate = path.with_name(f"{path.stem}.optimized.yaml")
    number = 2
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.stem}.optimized-{number}.yaml")
        number += 1
    return candidate


def write_beside(path: str | Path, variants: Sequence[NewVariant]) -> Path:
    """Write a new prompt file beside ``path`` with its variants and ``variants``.

    The new file, ``NAME.optimized.yaml`` (``NAME.optimized-2.yaml``... when taken), has the
    prompt's name and default, so a suite that points at it runs what it ran before unless it
    picks a new variant. ``path`` is only read.

    Returns:
        The new file.

    Raises:
        ConfigError: ``path`` does not load, a name is already used, or the new file would
            not load to the intended variants (nothing is written).
        OSError: the new file could not be written.
    """
    path = Path(path)
    before = load_prompt(path)
    _refuse_used_names(path, before.variants, variants)
    target = _beside_path(path)
    data = {
        "name": before.name,
        "default": before.default,
        "variants": {
            **{name: _loaded_variant_data(v) for name, v in before.variants.items()},
            **{v.name: variant_data(v) for v in variants},
        },
    }
    header = (
        f"# Written by promptsuite optimize: the variants of {path.name} (left as it was) and\n"
        "# the optimizer's. Point the suite's prompt at this file to use them.\n"
    )
    text = header + "".join(_dump(data, 0))
    _write_checked(target, text, _expected(before.variants, variants), before.default)
    return target


@dataclass(frozen=True)
class WriteBack:
    """Where new variants went.

    Attributes:
        path: The prompt file itself, a new prompt file beside it, or None when neither
            could be written.
        refused: Why the prompt file itself was not edited (None: it was).
        failed: Why the file beside it could not be written either (None: it was, or it
            was not needed).
    """

    path: Path | None
    refused: str | None = None
    failed: str | None = None


def add_variants(path: str | Path, variants: Sequence[NewVariant]) -> WriteBack:
    """Append ``variants`` to the prompt file, or, when it cannot be edited, write them beside.

    Never raises for a file that cannot be written: the outcome says where the variants went
    and why, so the caller can carry on with them in memory.
    """
    path = Path(path)
    try:
        write_variants(path, variants)
        return WriteBack(path)
    except (ConfigError, OSError) as exc:
        refused = _why(exc, path)
    try:
        return WriteBack(write_beside(path, variants), refused)
    except (ConfigError, OSError) as exc:
        return WriteBack(None, refused, _why(exc, path))


def _why(exc: ConfigError | OSError, path: Path) -> str:
    """The error in one line, without the prompt file's name in front."""
    return str(exc).splitlines()[0].removeprefix(f"{path}: ")


def _refuse_read_only(path: Path) -> None:
    # The atomic rename would replace a file without write permission (and root may write
    # anything): its mode is the owner's word that it is not to be edited.
    if not path.stat().st_mode & 0o222 or not os.access(path, os.W_OK):
        raise ConfigError("the file is read-only", Location(str(path)))


def _refuse_used_names(
    path: Path, existing: Mapping[str, Variant], variants: Sequence[NewVariant]
) -> None:
    clash = [v.name for v in variants if v.name in existing]
    if clash:
        raise ConfigError(f"variant name(s) already used: {', '.join(clash)}", Location(str(path)))


def _expected(
    existing: Mapping[str, Variant], variants: Sequence[NewVariant]
) -> dict[str, Variant]:
    return {**existing, **{v.name: Variant(v.name, v.templates, v.description) for v in variants}}


def _nest_single_variant(
    lines: list[str], keys: dict[str, tuple[yaml.Node, yaml.Node]], name: str
) -> list[str]:
    moved: set[int] = set()
    for key in _VARIANT_KEYS:
        if key in keys:
            key_node, value_node = keys[key]
            moved.update(range(key_node.start_mark.line, _end_line(value_node)))
    kept = [line for i, line in enumerate(lines) if i not in moved]
    nested = ["    " + line if line.strip() else line for i, line in enumerate(lines) if i in moved]
    return [*kept, "variants:\n", f"  {name}:\n", *nested]


def _set_default(lines: list[str], default: str, path: Path) -> list[str]:
    current = _top_level(_compose_mapping("".join(lines), path))
    if "default" not in current:
        if "variants" not in current:
            raise ConfigError(
                "a file without 'variants' has one variant, its default", Location(str(path))
            )
        at = current["variants"][0].start_mark.line
        return [*lines[:at], f"default: {default}\n", *lines[at:]]
    value = current["default"][1]
    start, end = value.start_mark, value.end_mark
    if start.line != end.line:
        raise ConfigError(
            "the 'default' key spans several lines; set it by hand", Location(str(path))
        )
    line = lines[start.line]
    lines[start.line] = line[: start.column] + default + line[end.column :]
    return lines


def _write_checked(path: Path, text: str, expected: Mapping[str, Variant], default: str) -> None:
    """Write ``text`` to ``path`` if it loads to the ``expected`` variants and ``default``.

    A variant is compared on what the model is sent: its templates, tools and response format.
    """
    where = Location(str(path))
    with atomic_writer(path) as (handle, temp):
        handle.write(text)
        handle.flush()
        try:
            loaded = load_prompt(temp, display=str(path))
        except PromptsuiteError as exc:
            raise ConfigError(
                f"the edited file would not load ({exc}); not written", where
            ) from None
        for name, variant in expected.items():
            got = loaded.variants.get(name)
            if got is None or _sent(got) != _sent(variant):
                raise ConfigError(
                    f"variant {name!r} would not load as intended; not written", where
                )
        if loaded.default != default:
            raise ConfigError(f"the default would be {loaded.default!r}, not {default!r}", where)


def _sent(variant: Variant) -> tuple[Any, ...]:
    return variant.templates, variant.tools, variant.response_format
