"""Reading YAML with positions: one parse gives the node tree (for locations) and the data.

Refuses what PyYAML would accept silently: duplicate keys, alias bombs, non-UTF-8 text,
oversize files; and turns every parser complaint into a located one-line
:class:`~promptsuite.errors.ConfigError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from promptsuite.errors import ConfigError, Location, SuiteLoadError

#: Files larger than this are refused before parsing (a suite is hand-written text).
MAX_FILE_BYTES = 20 * 1024 * 1024
#: Values a document may hold once its aliases are expanded ("billion laughs" guard).
MAX_EXPANDED_NODES = 1_000_000

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


def parse_yaml(text: str, file: str) -> tuple[yaml.Node | None, Any]:
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


def node_at(root: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node:
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


def key_node(root: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """The key node of the last part of ``loc``, when it names a key of a mapping."""
    parent = node_at(root, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if key_node.value == loc[-1]:
                found: yaml.Node = key_node
                return found
    return None


def read_capped(path: Path, display: str, what: str, *, encoding: str = "utf-8") -> str:
    """A suite's file as text: refused, located, when it cannot be read, is over
    :data:`MAX_FILE_BYTES`, or is not UTF-8.

    Args:
        path: The file.
        display: How errors name it.
        what: What it is, for the errors (``file``, ``data file``).
        encoding: ``utf-8``, or ``utf-8-sig`` to accept a byte-order mark.

    Raises:
        ConfigError: One of the three, at the file (or at the undecodable byte).
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", Location(display)) from None
    if size > MAX_FILE_BYTES:
        raise ConfigError(
            f"{what} is {size} bytes; expected at most {MAX_FILE_BYTES}", Location(display, 1, 1)
        )
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - before.rfind(b"\n")
        raise ConfigError(
            f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8",
            Location(display, line, column),
        ) from None


def read_yaml(path: Path, display: str) -> tuple[yaml.Node, Any]:
    """A file's node tree and data; its top level must be a mapping.

    Raises:
        ConfigError: The file cannot be read, is too large, is not UTF-8 or not YAML, or
            its top level is not a mapping (a SuiteLoadError for several problems).
    """
    text = read_capped(path, display, "file")
    node, data = parse_yaml(text, display)
    if node is None:
        raise ConfigError("file is empty; expected a mapping", Location(display, 1, 1))
    if not isinstance(data, dict):
        mark = node.start_mark
        raise ConfigError(
            f"top level is a {type(data).__name__}; expected a mapping of fields",
            Location(display, mark.line + 1, mark.column + 1),
        )
    return node, data
