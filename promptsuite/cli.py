"""The ``promptsuite`` command: helpers around suites. Runs happen through ``pytest``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from promptsuite.errors import PromptsuiteError

SCHEMA_DIR = Path(__file__).parent / "schemas"


def json_schemas() -> dict[str, dict[str, object]]:
    """The JSON Schemas of suite and prompt files, generated from the loader's models."""
    from promptsuite._schema import PromptFile, SuiteFile

    schemas: dict[str, dict[str, object]] = {}
    for name, model in (("suite", SuiteFile), ("prompt", PromptFile)):
        schema = model.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://promptsuite.dev/schemas/{name}.schema.json"
        schemas[name] = schema
    return schemas


def _cmd_schema(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else SCHEMA_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(path)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from promptsuite.suite import load_suite

    failed = 0
    for name in args.paths:
        paths = sorted(Path(name).rglob("*.y*ml")) if Path(name).is_dir() else [Path(name)]
        for path in paths:
            if "__baselines__" in path.parts:
                continue
            try:
                suite = load_suite(path)
            except PromptsuiteError as exc:
                failed += 1
                print(exc, file=sys.stderr)
                continue
            print(f"{path}: ok ({len(suite.cases)} cases, {len(suite.models)} models)")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``promptsuite`` command."""
    parser = argparse.ArgumentParser(prog="promptsuite", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    schema = commands.add_parser("schema", help="write the JSON Schemas of suite/prompt files")
    schema.add_argument("--out", help="folder to write to (default: the package's schemas/)")
    schema.set_defaults(func=_cmd_schema)
    validate = commands.add_parser("validate", help="load suites and report every problem")
    validate.add_argument("paths", nargs="+", help="suite files or folders")
    validate.set_defaults(func=_cmd_validate)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except PromptsuiteError as exc:
        print(f"promptsuite: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
