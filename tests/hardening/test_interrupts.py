"""SIGINT and SIGTERM in the middle of a real pytest run.

The run stops starting model calls, writes a valid results file holding every case it
reported, leaves a sound cache, and a re-run resumes from that cache.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from promptsuite.config import RunSettings
from promptsuite.session import RunSession
from tests.hardening import _soak as soak
from tests.stub_server import StubServer

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

CONCURRENCY = 4


@pytest.fixture
def server() -> Iterator[StubServer]:
    # Every answer takes 0.1 s, so 200 cases four at a time take ~5 s: long enough to be
    # interrupted in the middle.
    with StubServer(delay=0.1) as stub:
        yield stub


def usual_signals() -> None:
    """SIGINT and SIGTERM as a process started from a terminal has them.

    A job started in the background by a shell without job control inherits SIGINT
    ignored, and promptsuite rightly leaves an ignored signal alone: these tests are about
    a run that can be interrupted, so they start from the usual dispositions.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture
def interruptible() -> Iterator[None]:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    usual_signals()
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


def wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}: {proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_writes_results_keeps_cache_and_resumes(
    tmp_path: Path, server: StubServer, signum: signal.Signals
) -> None:
    # The suite allows 64 calls at once; the first run is held to four, the re-run is not.
    config = soak.SoakConfig(cases=200, suites=1, concurrency=64)
    planned = soak.write_project(tmp_path, server.base_url, config)
    cache = tmp_path / ".promptsuite" / "cache.sqlite"
    command = soak.pytest_command("--promptsuite-concurrency", str(CONCURRENCY))
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=soak.clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=usual_signals,  # Python then turns SIGINT into KeyboardInterrupt
    )
    wait_for(lambda: soak.cache_rows(cache) >= 30, proc, "30 cached answers")
    sent_before = server.stats().total
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    assert "Traceback" not in output
    # No new model call started after the signal: only those already under way arrived.
    assert server.stats().total <= sent_before + 2 * CONCURRENCY

    results = json.loads((tmp_path / "reports" / "latest.json").read_text(encoding="utf-8"))
    assert results["version"] == 1
    ids = [c["test_id"] for c in results["cases"]]
    planned_ids = [c.test_id for c in planned]
    assert 0 < len(ids) < len(planned_ids)
    assert len(set(ids)) == len(ids) and set(ids) <= set(planned_ids)
    assert all(c["error"] is None and c["repeats"][0]["output"] for c in results["cases"])
    assert not list((tmp_path / "reports").rglob("*.tmp"))
    assert integrity(cache) == "ok"
    cached = soak.cache_rows(cache)
    assert cached >= len(ids)

    server.reset()
    again = subprocess.run(
        soak.pytest_command("--promptsuite-concurrency", "64"),
        cwd=tmp_path,
        env=soak.clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == pytest.ExitCode.TESTS_FAILED, again.stdout[-3000:]
    assert server.stats().total == len(planned) - cached  # resumed from the cache
    final = soak.results_by_id(tmp_path / "reports" / "latest.json")
    assert sorted(final) == sorted(planned_ids)
    assert soak.cache_rows(cache) == len(planned)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.usefixtures("interruptible")
def test_signal_handlers_are_installed_while_jobs_run_and_then_restored(
    tmp_path: Path, signum: signal.Signals
) -> None:
    default = signal.getsignal(signum)
    session = RunSession(RunSettings(cache_path=tmp_path / "cache.sqlite"))
    session.start([])
    assert signal.getsignal(signum) is not default
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signum)
    # The first signal restores the previous handler: a second SIGTERM ends the process.
    assert signal.getsignal(signum) is default
    session.close()
    assert signal.getsignal(signum) is default
    session = RunSession(RunSettings(cache_path=tmp_path / "cache.sqlite"))
    session.start([])
    session.close()
    assert signal.getsignal(signum) is default


def test_a_handler_someone_else_installed_is_left_alone(tmp_path: Path) -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        session = RunSession(RunSettings(cache_path=tmp_path / "cache.sqlite"))
        session.start([])
        signal.raise_signal(signal.SIGTERM)
        session.close()
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
