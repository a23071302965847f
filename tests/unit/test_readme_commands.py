"""The commands the README and docs name, so their figures can be printed again, exist:
each benchmark script with every option the text gives it, each ``promptsuite`` command
with its options, each ``--promptsuite-*`` option of the pytest plugin."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from promptsuite.cli import main
from promptsuite.config import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Code in a text: a fenced block, or an inline span.
_CODE = re.compile(r"^```[^\n]*\n(?P<block>.*?)^```|`(?P<span>[^`\n]+)`", re.S | re.M)
_PLUGIN_OPTION = re.compile(r"--promptsuite-([a-z-]+)")


def named(start: str) -> list[tuple[str, str]]:
    """(text, command) for every command starting with ``start`` that the texts' code holds:
    a line of a code block or an inline span (``$ `` prompts and ``#`` comments left out)."""
    found = []
    for path in TEXTS:
        for code in _CODE.finditer(path.read_text(encoding="utf-8")):
            lines = code["block"].splitlines() if code["block"] is not None else [code["span"]]
            for line in lines:
                command = line.strip().removeprefix("$ ").split(" #")[0].rstrip("\\ ")
                if command.startswith(start):
                    found.append((path.name, command))
    return found


def options_of(command: str) -> list[str]:
    """The ``--options`` a command line gives, up to a bare ``--`` (what follows is pytest's)."""
    words = shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "), posix=False)
    options = []
    for word in words:
        if word == "--":
            break
        if word.startswith("--"):
            options.append(word.split("=")[0])
    return options


BENCHMARKS = named("python benchmarks/")
COMMANDS = named("promptsuite ")


def test_the_texts_name_commands() -> None:
    assert len(BENCHMARKS) >= 20 and len(COMMANDS) >= 10
    assert any("readme_figures.py" in command for _, command in BENCHMARKS)


@pytest.mark.parametrize(("where", "command"), BENCHMARKS, ids=[c for _, c in BENCHMARKS])
def test_each_benchmark_command_exists_with_its_options(where: str, command: str) -> None:
    script = ROOT / command.split()[1]
    assert script.is_file(), f"{where} names {script.relative_to(ROOT)}, which is not there"
    source = script.read_text(encoding="utf-8")
    for option in options_of(command):
        assert f'"{option}"' in source, f"{where}: {script.name} has no option {option}"


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_each_promptsuite_command_exists_with_its_options(
    where: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    subcommand = command.split()[1]
    with pytest.raises(SystemExit) as exited:
        main([subcommand, "--help"])
    assert exited.value.code == 0, f"{where}: promptsuite has no command {subcommand!r}"
    usage = capsys.readouterr().out
    for option in options_of(command):
        assert option in usage, f"{where}: promptsuite {subcommand} has no option {option}"


def test_each_plugin_option_the_texts_name_exists() -> None:
    named_options = {
        (path.name, match[1])
        for path in TEXTS
        for match in _PLUGIN_OPTION.finditer(path.read_text(encoding="utf-8"))
    }
    assert named_options
    unknown = sorted(f"{where}: --promptsuite-{name}" for where, name in named_options
                     if name not in OPTIONS)  # fmt: skip
    assert unknown == []
