"""promptsuite connects to nothing the user did not configure, and sends no telemetry.

Every Python process of the run gets a ``sitecustomize`` that lets sockets reach only the
loopback interface and logs (and refuses) every other connection or name lookup.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from tests.hardening import _soak as soak
from tests.stub_server import StubServer

GUARD = """
import os, socket

_LOG = os.environ["NETGUARD_LOG"]
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _refuse(what):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {what}\\n")
    raise OSError(f"netguard: {what} refused")


def _check(address):
    if isinstance(address, tuple) and address and address[0] not in _LOOPBACK:
        _refuse(f"connect {address!r}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto
_getaddrinfo = socket.getaddrinfo


def connect(self, address):
    _check(address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)


def sendto(self, data, *args):
    _check(args[-1])
    return _sendto(self, data, *args)


def getaddrinfo(host, *args, **kwargs):
    if host not in _LOOPBACK and host is not None:
        _refuse(f"resolve {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo = getaddrinfo
"""


def guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    log = tmp_path / "netguard.log"
    log.touch()
    env = soak.clean_env(NETGUARD_LOG=str(log), OPENAI_API_KEY="sk-not-used-here")
    env["PYTHONPATH"] = f"{guard}:{env['PYTHONPATH']}"
    return env, log


def test_the_guard_refuses_and_logs_other_hosts(tmp_path: Path) -> None:
    env, log = guarded_env(tmp_path)
    probe = textwrap.dedent(
        """
        import socket
        try:
            socket.create_connection(("192.0.2.1", 80), 1)
        except OSError as e:
            print(e)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert "netguard" in out.stdout
    assert "192.0.2.1" in log.read_text(encoding="utf-8")


def test_a_run_reaches_only_the_configured_loopback_endpoint(tmp_path: Path) -> None:
    env, log = guarded_env(tmp_path)
    with StubServer() as server:
        suite = {
            "prompt": {"user": "{{ q }}"},
            "models": [
                "scripted",
                {
                    "provider": "openai",
                    "model": "m",
                    "label": "local-api",
                    "base_url": server.base_url,
                },
            ],
            "cases": [
                {
                    "id": f"c{i}",
                    "vars": {"q": f"hello {i}"},
                    "expect": [{"type": "contains", "value": "hello"}],
                }
                for i in range(5)
            ],
        }
        (tmp_path / "suites").mkdir()
        (tmp_path / "suites" / "s.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
        run = subprocess.run(
            soak.pytest_command("-n", "2"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        calls = server.stats().total
    assert run.returncode == 0, run.stdout[-3000:]
    assert "10 passed" in run.stdout
    assert calls == 5
    validate = subprocess.run(
        [sys.executable, "-m", "promptsuite.cli", "validate", "suites"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert log.read_text(encoding="utf-8") == ""


def test_the_openai_api_is_never_contacted_without_a_key(tmp_path: Path) -> None:
    env, log = guarded_env(tmp_path)
    del env["OPENAI_API_KEY"]
    suite = textwrap.dedent(
        """
        prompt: {user: hi}
        models: ["openai:gpt-4o-mini"]
        cases: [{id: a}]
        """
    )
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "s.yaml").write_text(suite, encoding="utf-8")
    run = subprocess.run(
        soak.pytest_command(), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert "1 error" in run.stdout and "OPENAI_API_KEY is not set" in run.stdout
    assert log.read_text(encoding="utf-8") == ""
