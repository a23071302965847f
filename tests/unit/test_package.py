"""Package-level promises: shipped schemas are current, imports stay cheap, exports sorted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

import promptsuite.assertions
import promptsuite.models
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


def test_all_is_sorted() -> None:
    for module in (promptsuite.models, promptsuite.assertions):
        assert list(module.__all__) == sorted(module.__all__), module.__name__


def test_import_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, promptsuite, promptsuite.suite, promptsuite.runner;"
        "heavy = {'openai', 'pandas', 'dspy', 'xllamacpp', 'httpx', 'jsonschema'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
