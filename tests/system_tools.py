"""System tools some tests drive (Debian's chromium, jq): found, or installed with apt-get.

CI runs as root on Debian, so a missing tool is installed there. Where it cannot be had,
the test fails saying how to install it: a tier of the tests is never skipped quietly.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess

import pytest


def debian_tool(command: str, package: str | None = None) -> str:
    """The path of ``command``, installing Debian's ``package`` (default: the command's name)
    with apt-get when it is missing."""
    __tracebackhide__ = True
    package = package or command
    found = shutil.which(command)
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.fail(f"{command} is missing and cannot be installed here: apt-get install {package}")
    # One installer at a time, also across pytest-xdist workers.
    with open("/tmp/promptsuite-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not shutil.which(command):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
                done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=1200)
                if done.returncode != 0:
                    pytest.fail(f"{' '.join(step)} failed: {done.stderr.strip()[-500:]}")
    found = shutil.which(command)
    if not found:
        pytest.fail(f"apt-get installed {package} but {command} is not on PATH")
    return found
