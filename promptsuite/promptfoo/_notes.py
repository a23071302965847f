"""What an import could not carry over, one located line each; the files a config names,
read with a located note when they cannot be."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from promptsuite.suite import node_at

#: A place in the promptfoo config: its YAML path (``("tests", 3, "assert", 1)``).
Where = tuple[int | str, ...]


def path_text(where: Where) -> str:
    """``tests[3].assert[1]``."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


@dataclass
class Notes:
    """Collects what was not converted (or converted with a change), located in the config.

    Attributes:
        file: The config file as shown in messages.
        root: Its YAML node tree, to find line numbers; None for a file without one (CSV).
        lines: The notes so far, each ``file:line: field: what happened``.
    """

    file: str
    root: yaml.Node | None = None
    lines: list[str] = field(default_factory=list)

    def add(self, where: Where, message: str, *, file: str | Path | None = None) -> None:
        """Record one note at ``where`` (in ``file``, a tests file, if given)."""
        shown = str(file) if file is not None else self.file
        line = ""
        if file is None and self.root is not None:
            line = f":{node_at(self.root, where).start_mark.line + 1}"
        self.lines.append(f"{shown}{line}: {path_text(where)}: {message}")


#: What reading a referenced file may raise, each meaning "cannot use this file".
READ_ERRORS = (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError)


def read_file(
    path: Path, notes: Notes, where: Where, *, parse: bool = False, file: Path | None = None
) -> Any:
    """A referenced file's text (or, with ``parse``, its JSON/YAML data); None with a note
    naming the file when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
        if not parse:
            return text
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except READ_ERRORS as err:
        reason = " ".join(str(err).split())[:160]
        notes.add(where, f"cannot read {path}: {type(err).__name__}: {reason}; left out", file=file)
        return None


def globbed(config_dir: Path, target: str) -> list[Path]:
    """The files a reference names: its glob's matches, or the one path it is."""
    paths = sorted(config_dir.glob(target)) if any(c in target for c in "*?[") else []
    return paths or [config_dir / target]


def read_all(
    paths: Sequence[Path], missing: str, where: Where, notes: Notes
) -> Iterator[tuple[Path, str]]:
    """Each file's text; a missing file (``{missing} {path}``) or an unreadable one is a
    note, and left out."""
    for path in paths:
        if not path.is_file():
            notes.add(where, f"{missing} {path}; left out")
            continue
        text = read_file(path, notes, where)
        if text is not None:
            yield path, text
