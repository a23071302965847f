"""Two runs at once on one cache and one reports folder: nothing corrupt, nothing half-written."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from promptsuite._files import write_json_atomic
from promptsuite.cache import ResponseCache
from promptsuite.models import Generation
from tests.hardening import _soak as soak
from tests.stub_server import StubServer

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class Reader(threading.Thread):
    """Parses every JSON file under a folder, over and over, counting what it could not."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.stop = threading.Event()
        self.reads = 0
        self.broken: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for path in list(self.folder.rglob("*.json")):
                try:
                    text = path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    continue  # replaced between listing and reading
                try:
                    json.loads(text)
                except ValueError:
                    self.broken.append(f"{path}: {len(text)} chars")
                self.reads += 1


def test_two_runs_at_once_share_cache_and_reports(tmp_path: Path) -> None:
    config = soak.SoakConfig(cases=150, suites=1, concurrency=16)
    with StubServer(delay=0.01) as server:
        planned = soak.write_project(tmp_path, server.base_url, config)
        (tmp_path / "reports").mkdir()
        reader = Reader(tmp_path / "reports")
        reader.start()
        command = soak.pytest_command("--promptsuite-concurrency", "16")
        procs = [
            subprocess.Popen(
                [*command, f"--junitxml=junit{i}.xml"],
                cwd=tmp_path,
                env=soak.clean_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for i in range(2)
        ]
        outputs = [p.communicate(timeout=300)[0] for p in procs]
        reader.stop.set()
        reader.join()
        for proc, output in zip(procs, outputs, strict=True):
            assert proc.returncode == pytest.ExitCode.TESTS_FAILED, output[-3000:]
            assert "Traceback" not in output
        calls = server.stats().total

    assert reader.reads > 0 and reader.broken == []
    runs = sorted((tmp_path / "reports" / "runs").glob("results-*.json"))
    assert len(runs) == 2
    planned_ids = sorted(c.test_id for c in planned)
    for run in runs:
        assert sorted(soak.results_by_id(run)) == planned_ids
    latest = (tmp_path / "reports" / "latest.json").read_bytes()
    assert latest in {run.read_bytes() for run in runs}
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]

    cache = tmp_path / ".promptsuite" / "cache.sqlite"
    with contextlib.closing(sqlite3.connect(cache)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert soak.cache_rows(cache) == len(planned)
    assert len(planned) <= calls <= 2 * len(planned)


def _hammer_cache(path: str, worker: int, count: int) -> None:
    cache = ResponseCache(path)
    for i in range(count):
        key = f"{worker}-{i}"
        cache.put(key, {"provider": "test"}, Generation(text=key * 50))
        shared = cache.get(f"{1 - worker}-{i}")
        assert shared is None or shared.text == f"{1 - worker}-{i}" * 50
    cache.close()


def _hammer_file(path: str, worker: int, count: int) -> None:
    for i in range(count):
        write_json_atomic(Path(path), {"worker": worker, "i": i, "pad": ["x" * 100] * 500})


@pytest.mark.parametrize("target", [_hammer_cache, _hammer_file], ids=["cache", "results"])
def test_two_processes_writing_at_once_leave_whole_files(tmp_path: Path, target: object) -> None:
    context = multiprocessing.get_context("spawn")
    path = tmp_path / "sub" / ("cache.sqlite" if target is _hammer_cache else "latest.json")
    path.parent.mkdir()
    reader = Reader(path.parent)
    if target is _hammer_file:
        reader.start()
    workers = [context.Process(target=target, args=(str(path), w, 200)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    reader.stop.set()
    if reader.is_alive():
        reader.join()
    assert [w.exitcode for w in workers] == [0, 0]
    if target is _hammer_cache:
        cache = ResponseCache(path)
        assert len(cache) == 400
        assert all(cache.get(f"{w}-{i}") is not None for w in range(2) for i in range(200))
        cache.close()
    else:
        assert reader.reads > 0 and reader.broken == []
        assert json.loads(path.read_text(encoding="utf-8"))["i"] == 199
        assert [p.name for p in path.parent.iterdir()] == ["latest.json"]
