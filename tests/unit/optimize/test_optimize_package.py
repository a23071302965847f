"""``promptsuite.optimize`` stays cheap to import and exports what it documents."""

from __future__ import annotations

import subprocess
import sys

import promptsuite.optimize


def test_importing_the_optimizer_package_loads_no_dspy():
    code = (
        "import sys, promptsuite.optimize, promptsuite.cli;"
        "print(sorted({'dspy', 'litellm', 'optuna', 'gepa'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_all_is_sorted_and_complete():
    # ruff's (isort-style) order: constants, then classes, then functions.
    exported = promptsuite.optimize.__all__
    kind = {True: 0, False: 1}
    assert list(exported) == sorted(
        exported, key=lambda n: (kind[n.isupper()], kind[n[0].isupper()], n)
    )
    for name in exported:
        assert hasattr(promptsuite.optimize, name), name
