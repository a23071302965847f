"""``module:attribute`` references, read the same way by checks, providers and scripts."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from promptsuite._imports import is_reference, load_reference


@pytest.mark.parametrize(
    ("text", "ok"),
    [("a:b", True), ("pkg.mod:fn", True), ("a.b", False), ("a:b c", False), (3, False)],
)
def test_is_reference(text: object, ok: bool) -> None:
    assert is_reference(text) is ok


def test_loads_from_a_search_folder_and_leaves_sys_path_alone(tmp_path: Path) -> None:
    name = f"mod_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("def answer():\n    return 42\n", encoding="utf-8")
    before = list(sys.path)
    try:
        assert load_reference(f"{name}:answer", search=tmp_path)() == 42
        assert load_reference(f"{name}:missing", search=tmp_path) is None
    finally:
        sys.modules.pop(name, None)
    assert sys.path == before


def test_malformed_and_missing_references_raise() -> None:
    with pytest.raises(ValueError, match="module:attribute"):
        load_reference("no_colon")
    with pytest.raises(ImportError):
        load_reference(f"no_such_module_{uuid.uuid4().hex}:x")
