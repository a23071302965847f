"""The API key never reaches a file a run writes, its output, or its logs.

The server echoes the Authorization header back in its error bodies, as a misbehaving
proxy might; the run is made with debug logging, local variables in tracebacks and JUnit
XML, and then every file it wrote and everything it printed is scanned for the key.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fault_server import FaultSchedule, last_user_text
from tests.hardening import _soak as soak
from tests.stub_server import Action, Status, StubServer

SECRET = "sk-hardening-SENTINEL-5d41402abc4b2a76"


def test_the_key_reaches_the_server_and_nowhere_else(tmp_path: Path) -> None:
    faults = FaultSchedule(seed=3)
    server = StubServer()

    def behavior(index: int, body: dict[str, Any]) -> Action | None:
        auth = server.received()[index].headers.get("authorization", "")
        prompt = last_user_text(body)
        if prompt == "echo-400":
            return Status(400, message=f"bad request from {auth}")
        if prompt == "echo-500":
            return Status(500, message=f"upstream rejected {auth}")
        return faults(index, body)

    server.behavior = behavior
    with server:
        model = {
            "provider": "openai",
            "model": "m",
            "label": "keyed",
            "base_url": server.base_url,
            "api_key_env": "HARDENING_KEY",
            "max_retries": 1,
            "backoff_base": 0.01,
            "timeout": 5,
        }
        cases = [{"id": "echo-400", "vars": {"q": "echo-400"}}]
        cases += [{"id": "echo-500", "vars": {"q": "echo-500"}}]
        cases += [{"id": f"c{i}", "vars": {"q": f"case {i}"}} for i in range(30)]
        suite = {"prompt": {"user": "{{ q }}"}, "models": [model], "cases": cases}
        (tmp_path / "suites").mkdir()
        (tmp_path / "suites" / "keyed.yaml").write_text(yaml.safe_dump(suite))
        inputs = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        proc = subprocess.run(
            soak.pytest_command(
                "-rA", "-l", "--log-level=DEBUG", "--log-file=run.log", "--full-trace"
            ),
            cwd=tmp_path,
            env=soak.clean_env(HARDENING_KEY=SECRET, PYTHONFAULTHANDLER="1"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        seen = [r.headers.get("authorization") for r in server.received()]

    # The key was really in use: every request carried it.
    assert seen and all(header == f"Bearer {SECRET}" for header in seen)
    output = proc.stdout + proc.stderr
    assert "echo-400" in output and "bad request from Bearer ***" in output
    assert SECRET not in output
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p not in inputs]
    names = {p.name for p in written}
    assert {"latest.json", "cache.sqlite", "junit.xml", "run.log"} <= names, names
    assert (tmp_path / "run.log").stat().st_size > 0
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path
        assert SECRET[3:].encode() not in path.read_bytes(), path


@pytest.mark.parametrize("key", [SECRET, "short"])
def test_a_key_embedded_in_the_base_url_is_dropped(tmp_path: Path, key: str) -> None:
    from promptsuite.models import ModelSpec
    from promptsuite.models.openai.provider import OpenAIProvider

    url = f"http://user:{key}@127.0.0.1:9/v1"
    provider = OpenAIProvider(ModelSpec("openai", "m", options=(("base_url", url),)))
    assert key not in repr(provider) and key not in str(provider.identity())
