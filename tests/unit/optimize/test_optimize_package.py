"""``promptsuite.optimize`` stays cheap to import and exports what it documents."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import promptsuite.finetune
import promptsuite.optimize


def printed_after(imports: str, expression: str) -> str:
    """What a fresh interpreter prints of ``expression`` after importing ``imports``."""
    code = f"import sys, {imports}; print({expression})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_the_optimizer_package_loads_no_dspy():
    heavy = "sorted({'dspy', 'litellm', 'optuna', 'gepa'} & set(sys.modules))"
    assert printed_after("promptsuite.optimize, promptsuite.cli", heavy) == "[]"


def test_the_pages_load_the_report_kit_only_when_they_draw():
    report = "sorted(m for m in sys.modules if m.startswith('promptsuite.report'))"
    assert printed_after("promptsuite.optimize, promptsuite.finetune", report) == "[]"


@pytest.mark.parametrize("package", [promptsuite.optimize, promptsuite.finetune])
def test_all_is_sorted_and_complete(package: ModuleType) -> None:
    # ruff's (isort-style) order: constants, then classes, then functions.
    exported = package.__all__
    kind = {True: 0, False: 1}
    assert list(exported) == sorted(
        exported, key=lambda n: (kind[n.isupper()], kind[n[0].isupper()], n)
    )
    for name in exported:
        assert hasattr(package, name), name
