"""The first project ``promptsuite init`` writes: a prompt, a suite, its settings and CI.

The suite passes on the embedded model, so ``pytest suites/`` is green from the first run.
Nothing that exists is overwritten: a file that is there is skipped, and for the files a
project usually has already (``pyproject.toml``, ``README.md``, ``.gitignore``) the part
it lacks is handed back, to be added by hand.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from promptsuite._files import write_text_atomic

__all__ = ["FILES", "StarterFile", "write_starter"]

_TEMPLATES = Path(__file__).parent / "files"

#: Where each file goes in the project, and the template it is written from.
FILES: tuple[tuple[str, str], ...] = (
    ("prompts/assistant.yaml", "prompt.yaml"),
    ("suites/assistant.yaml", "suite.yaml"),
    ("pyproject.toml", "pyproject.toml"),
    (".github/workflows/prompt-regression.yml", "workflow.yml"),
    ("README.md", "README.md"),
    (".gitignore", "gitignore"),
)


@dataclass(frozen=True)
class StarterFile:
    """One file of the starter.

    Attributes:
        path: Where it goes, relative to the project folder.
        written: Whether it was written (False: it existed and was left alone).
        to_add: For an existing file that lacks the starter's part: that part, to add by hand.
    """

    path: str
    written: bool
    to_add: str | None = None


def write_starter(folder: Path) -> list[StarterFile]:
    """Write the starter project into ``folder``, never replacing a file that exists."""
    done = []
    for relative, template in FILES:
        text = (_TEMPLATES / template).read_text(encoding="utf-8")
        target = folder / relative
        if target.exists():
            existing = target.read_text(encoding="utf-8", errors="replace")
            done.append(StarterFile(relative, False, _missing_part(relative, text, existing)))
            continue
        write_text_atomic(target, text)
        done.append(StarterFile(relative, True))
    return done


def _missing_part(relative: str, text: str, existing: str) -> str | None:
    """What of the starter's ``text`` an existing file lacks, or None."""
    if relative == "pyproject.toml":
        return _missing_tables(text, existing)
    if relative == "README.md":
        heading = text.splitlines()[0]
        return None if heading in existing.splitlines() else text
    if relative == ".gitignore":
        have = {line.strip() for line in existing.splitlines()}
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        missing = [line for line in lines if line not in have]
        return "\n".join(missing) + "\n" if missing else None
    return None


def _missing_tables(text: str, existing: str) -> str | None:
    """The TOML tables of ``text`` that the ``existing`` document does not have."""
    try:
        have = tomllib.loads(existing)
    except tomllib.TOMLDecodeError:
        have = {}
    chunks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("[") or not chunks:
            chunks.append([])
        chunks[-1].append(line)
    missing = []
    for chunk in chunks:
        node: object = have
        for key in chunk[0].strip("[]").split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            missing.append("\n".join(chunk).strip())
    return "\n\n".join(missing) + "\n" if missing else None
