"""The side-by-side benchmark's options: ``--python`` times pytest in another interpreter
(a lean virtualenv), the floor in the same one, with this checkout on its path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from benchmarks import side_by_side

ROOT = Path(__file__).resolve().parents[2]


def test_by_default_pytest_runs_in_this_interpreter_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)
    args = side_by_side.parse_args(["--cached", "--cases", "200"])
    assert args.python is None and args.cached and args.cases == 200
    assert side_by_side.promptsuite_command(args, Path("s"), Path("c"))[0] == sys.executable
    assert side_by_side.floor_command(args, Path("e"))[0] == sys.executable
    assert "PYTHONPATH" not in side_by_side.pytest_env(args)


def test_python_names_the_interpreter_of_both_runs_with_this_checkout_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    lean = "/tmp/lean/bin/python"
    args = side_by_side.parse_args(["--cached", "--python", lean, "--", "-x"])
    assert args.python == lean and args.extra == ["-x"]
    ours = side_by_side.promptsuite_command(args, Path("s"), Path("c"))
    floor = side_by_side.floor_command(args, Path("e"))
    assert ours[:3] == floor[:3] == [lean, "-m", "pytest"]
    assert ours[-1] == "-x" and "-x" not in floor
    path = side_by_side.pytest_env(args)["PYTHONPATH"].split(os.pathsep)
    assert path == [str(ROOT), "/elsewhere"]


def test_an_interpreter_without_promptsuite_is_refused(tmp_path: Path) -> None:
    bare = tmp_path / "python"  # this interpreter without its site-packages
    bare.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n', encoding="utf-8")
    bare.chmod(0o755)
    with pytest.raises(SystemExit, match="needs pytest and promptsuite installed"):
        side_by_side.check_interpreter(str(bare))
    with pytest.raises(SystemExit, match="cannot run it"):
        side_by_side.check_interpreter(str(tmp_path / "missing"))
    side_by_side.check_interpreter(sys.executable)  # the dev environment has both
