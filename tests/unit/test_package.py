"""Package-level promises: shipped schemas are current, imports stay cheap, exports sorted."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import jsonschema
import pytest
import yaml

from promptsuite.cli import SCHEMA_DIR, json_schemas

ROOT = Path(__file__).parents[2]


def test_shipped_json_schemas_match_the_loader_models() -> None:
    for name, schema in json_schemas().items():
        shipped = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert shipped == json.loads(json.dumps(schema)), (
            f"{name}.schema.json is stale; run `promptsuite schema`"
        )


def test_example_files_validate_against_the_shipped_schemas() -> None:
    schemas = json_schemas()
    for kind in ("suite", "prompt"):
        validator = jsonschema.Draft202012Validator(schemas[kind])
        files = sorted((ROOT / f"{kind}s").glob("*.yaml"))
        assert files, f"no example {kind} files"
        for path in files:
            errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
            assert not errors, f"{path}: {errors[0].message}"


#: Every public package: each re-exports its private modules' API with an explicit __all__.
PACKAGES = [
    "promptsuite.checks",
    "promptsuite.finetune",
    "promptsuite.gate",
    "promptsuite.labels",
    "promptsuite.models",
    "promptsuite.models.openai",
    "promptsuite.optimize",
    "promptsuite.optimize.analysis",
    "promptsuite.optimize.search",
    "promptsuite.report",
    "promptsuite.results",
    "promptsuite.review",
    "promptsuite.suite",
]


def isort_key(name: str) -> tuple[int, str]:
    """ruff's (isort-style) order of __all__: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_complete(name: str) -> None:
    package = importlib.import_module(name)
    exported = list(package.__all__)
    assert exported == sorted(exported, key=isort_key), name
    public = {
        key
        for key, value in vars(package).items()
        if not key.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(exported), f"{name}: exported but missing, or defined but not exported"


def test_import_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, promptsuite, promptsuite.suite, promptsuite.runner, promptsuite.checks;"
        "heavy = {'openai', 'pandas', 'dspy', 'xllamacpp', 'httpx', 'jsonschema'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_finetune_package_and_command_load_no_torch() -> None:
    code = (
        "import sys, promptsuite.finetune, promptsuite.cli;"
        "from promptsuite.cli import main;"
        "heavy = {'torch', 'transformers', 'peft', 'gguf', 'trl', 'datasets'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
