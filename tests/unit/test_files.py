"""Atomic writes: whole files or none, with the modes people expect."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from promptsuite._files import NEW_FILE_MODE, atomic_writer, copy_atomic, write_text_atomic


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_readable_by_others_and_complete(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "deep" / "report.html", "<p>hi</p>")
    assert target.read_text() == "<p>hi</p>"
    assert mode(target) == NEW_FILE_MODE
    assert list(target.parent.iterdir()) == [target]


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "prompt.yaml"
    target.write_text("old")
    target.chmod(0o600)
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o600


def test_a_failed_check_leaves_the_original_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "prompt.yaml"
    target.write_text("original")
    with pytest.raises(ValueError), atomic_writer(target) as (handle, temp):
        handle.write("broken")
        handle.flush()
        assert temp.read_text() == "broken"
        raise ValueError("does not load")
    assert target.read_text() == "original"
    assert list(tmp_path.iterdir()) == [target]


def test_copy(tmp_path: Path) -> None:
    source = write_text_atomic(tmp_path / "a.json", "{}\n")
    copied = copy_atomic(source, tmp_path / "b.json")
    assert copied.read_text() == "{}\n" and mode(copied) == NEW_FILE_MODE
