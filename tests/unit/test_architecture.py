"""Structure rules the import linter cannot express: private names stay in their package.

A name starting with ``_`` (a module, or a symbol of a module or package) is private to the
namespace it is imported from: that package or module and everything inside it may import
it, nothing else may. A subpackage is inside its parent, so the root package's private
modules (``promptsuite._files``, ``_format``, ...) may be imported everywhere. Imports inside
functions and under ``TYPE_CHECKING`` count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGE = "promptsuite"


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module at ``path`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_inside(module: str, namespace: str) -> bool:
    return module == namespace or module.startswith(namespace + ".")


def imported_names(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every ``(line, dotted name)`` a module imports: ``import a.b`` gives ``a.b``;
    ``from a.b import c`` gives ``a.b.c``; relative imports are resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                if not is_package:
                    anchor.pop()
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"


def private_crossings(source_root: Path, package: str) -> list[str]:
    """``file:line: module imports name`` for each private name imported from outside the
    namespace that holds it, over every module of ``package`` under ``source_root``."""
    found = []
    for path in sorted((source_root / package).rglob("*.py")):
        module = module_name(path, source_root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imports = sorted(imported_names(tree, module, path.name == "__init__.py"))
        for line, dotted in imports:
            parts = dotted.split(".")
            if parts[0] != package:
                continue
            for index, part in enumerate(parts[1:], start=1):
                namespace = ".".join(parts[:index])
                if is_private(part) and not is_inside(module, namespace):
                    where = path.relative_to(source_root).as_posix()
                    found.append(f"{where}:{line}: {module} imports {dotted}")
                    break
    return found


def write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def fake_tree(tmp_path: Path) -> Path:
    """A tiny package with one private module per level and a private function."""
    for name in ("pkg/__init__.py", "pkg/_files.py", "pkg/sub/__init__.py", "pkg/sub/_impl.py"):
        write(tmp_path, name)
    write(tmp_path, "pkg/session.py", "def _under():\n    pass\n")
    write(tmp_path, "pkg/sub/inner/__init__.py")
    return tmp_path


@pytest.mark.parametrize(
    ("importer", "code", "line"),
    [
        ("pkg/shards.py", "from pkg.session import _under\n", 1),
        ("pkg/other.py", "from pkg.sub import _impl\n", 1),
        ("pkg/other.py", "import os\nimport pkg.sub._impl\n", 2),
        ("pkg/other.py", "from pkg.sub._impl import thing\n", 1),
        ("pkg/other.py", "def lazily():\n    from pkg.sub._impl import thing\n", 2),
        ("pkg/other.py", "import typing\nif typing.TYPE_CHECKING:\n    import pkg.sub._impl\n", 3),
        ("pkg/sub/own.py", "from pkg.session import _under\n", 1),
        ("pkg/sub/own.py", "from .._files import _helper\n", 1),
        ("pkg/sub/own.py", "from ..session import _under\n", 1),
    ],
)
def test_the_checker_names_each_private_import_from_outside(
    fake_tree: Path, importer: str, code: str, line: int
) -> None:
    write(fake_tree, importer, code)
    [crossing] = private_crossings(fake_tree, "pkg")
    assert crossing.startswith(f"{importer}:{line}: ")


@pytest.mark.parametrize(
    ("importer", "code"),
    [
        ("pkg/sub/__init__.py", "from pkg.sub import _impl\n"),
        ("pkg/sub/own.py", "from pkg.sub._impl import thing\n"),
        ("pkg/sub/own.py", "from . import _impl\n"),
        ("pkg/sub/inner/deep.py", "from pkg.sub._impl import thing\n"),
        ("pkg/sub/inner/deep.py", "from ..._files import helper\n"),
        ("pkg/other.py", "from pkg import _files\nimport pkg._files\n"),
        ("pkg/other.py", "from pkg import __version__\nfrom os import _exit\n"),
        ("pkg/other.py", "from pkg.sub import *\n"),
    ],
)
def test_the_checker_lets_a_package_use_its_own_private_names(
    fake_tree: Path, importer: str, code: str
) -> None:
    write(fake_tree, importer, code)
    assert private_crossings(fake_tree, "pkg") == []


def test_no_module_imports_a_private_name_of_another_package() -> None:
    assert (ROOT / PACKAGE / "__init__.py").is_file()  # the walk below sees the real tree
    crossings = private_crossings(ROOT, PACKAGE)
    assert crossings == [], "private names imported from outside their package:\n" + "\n".join(
        crossings
    )
