"""The openai room stays cheap to import: the plugin loads it before pytest parses options."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {"openai", "httpx", "httpx2", "httpcore"}


def loaded_after(statement: str, names: set[str]) -> list[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted({names!r} & set(sys.modules))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize(
    "statement",
    [
        "import promptsuite.models",
        "from promptsuite.models import call_helper",
        "import promptsuite.models.openai",
        "import promptsuite.plugin",
        "import promptsuite.models.openai.provider",
    ],
)
def test_no_http_client_before_a_request(statement: str) -> None:
    assert loaded_after(statement, HEAVY) == []


def test_the_models_package_loads_no_event_loop_machinery() -> None:
    assert loaded_after("import promptsuite.models", {"asyncio", "subprocess"}) == []
