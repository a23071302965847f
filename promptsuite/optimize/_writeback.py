"""Writing candidates back into the user's prompt file as named variants.

The file is edited as text, not re-dumped, so its comments, order and quoting survive:
new variants are appended to the ``variants`` mapping. A file without ``variants`` (one
top-level variant) first has its ``system`` / ``examples`` / ``user`` / ``messages``
moved, as written, under ``variants: {<its name>: ...}``, which loads to the same variant.
Adding variants never changes the user's default; :func:`write_default` does. The result is loaded
with :func:`promptsuite.suite.load_prompt` and compared with what was meant before it
replaces the file; on any mismatch the file is left untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptsuite._files import atomic_writer
from promptsuite.errors import ConfigError, PromptsuiteError
from promptsuite.optimize._shape import Templates
from promptsuite.suite import load_prompt

__all__ = ["NewVariant", "unique_names", "variant_data", "write_default", "write_variants"]

_VARIANT_KEYS = ("system", "examples", "user", "messages")


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
    data: dict[str, Any] = {"description": variant.description}
    templates = list(variant.templates)
    system = templates.pop(0)[1] if templates and templates[0][0] == "system" else None
    last = templates.pop()[1] if templates and templates[-1][0] == "user" else None
    pairs = templates
    regular = (
        last is not None
        and len(pairs) % 2 == 0
        and all(
            pairs[i][0] == "user" and pairs[i + 1][0] == "assistant"
            for i in range(0, len(pairs), 2)
        )
    )
    if not regular:
        data["messages"] = [{"role": role, "content": text} for role, text in variant.templates]
        return data
    if system is not None:
        data["system"] = system
    if pairs:
        data["examples"] = [
            {"user": pairs[i][1], "assistant": pairs[i + 1][1]} for i in range(0, len(pairs), 2)
        ]
    data["user"] = last
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


def _compose_mapping(text: str) -> yaml.MappingNode:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError("expected a mapping at the top level")
    return root


def _top_level(root: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {str(key.value): (key, value) for key, value in root.value}


def write_variants(path: str | Path, variants: Sequence[NewVariant]) -> None:
    """Append ``variants`` to a prompt file; its default stays as it is.

    Raises:
        ConfigError: the file cannot be edited safely (flow-style mapping, a name already
            used, or the edited file would not load to the intended variants).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    lines = text.splitlines(keepends=True)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise ConfigError(f"{path}: expected a block mapping at the top level to add variants to")
    before = load_prompt(path)
    clash = [v.name for v in variants if v.name in before.variants]
    if clash:
        raise ConfigError(f"{path}: variant name(s) already used: {', '.join(clash)}")
    keys = _top_level(root)
    if "variants" not in keys:
        lines = _nest_single_variant(lines, keys, before.default)
        keys = _top_level(_compose_mapping("".join(lines)))
    variants_node = keys["variants"][1]
    if not isinstance(variants_node, yaml.MappingNode) or variants_node.flow_style:
        raise ConfigError(f"{path}: 'variants' must be a block mapping to add variants to")
    indent = variants_node.value[0][0].start_mark.column if variants_node.value else 2
    added: list[str] = []
    for variant in variants:
        added.extend(_dump({variant.name: variant_data(variant)}, indent))
    at = _end_line(variants_node)
    lines = lines[:at] + added + lines[at:]
    expected = {name: v.templates for name, v in before.variants.items()}
    expected.update({v.name: v.templates for v in variants})
    _replace_checked(path, "".join(lines), expected, before.default)


def write_default(path: str | Path, name: str) -> None:
    """Make variant ``name`` the prompt file's default.

    Raises:
        ConfigError: the variant does not exist, or the file cannot be edited safely.
    """
    path = Path(path)
    before = load_prompt(path)
    if name not in before.variants:
        raise ConfigError(f"{path}: no variant {name!r} to make the default")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    expected = {key: v.templates for key, v in before.variants.items()}
    _replace_checked(path, "".join(_set_default(lines, name)), expected, name)


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


def _set_default(lines: list[str], default: str) -> list[str]:
    current = _top_level(_compose_mapping("".join(lines)))
    if "default" not in current:
        if "variants" not in current:
            raise ConfigError("a file without 'variants' has one variant, its default")
        at = current["variants"][0].start_mark.line
        return [*lines[:at], f"default: {default}\n", *lines[at:]]
    value = current["default"][1]
    start, end = value.start_mark, value.end_mark
    if start.line != end.line:
        raise ConfigError("the 'default' key spans several lines; set it by hand")
    line = lines[start.line]
    lines[start.line] = line[: start.column] + default + line[end.column :]
    return lines


def _replace_checked(path: Path, text: str, expected: dict[str, Templates], default: str) -> None:
    with atomic_writer(path) as (handle, temp):
        handle.write(text)
        handle.flush()
        try:
            loaded = load_prompt(temp, display=str(path))
        except PromptsuiteError as exc:
            raise ConfigError(
                f"{path}: the edited file would not load ({exc}); left unchanged"
            ) from None
        for name, templates in expected.items():
            got = loaded.variants.get(name)
            if got is None or got.templates != templates:
                raise ConfigError(
                    f"{path}: variant {name!r} would not load as intended; file left unchanged"
                )
        if loaded.default != default:
            raise ConfigError(f"{path}: the default would be {loaded.default!r}, not {default!r}")
