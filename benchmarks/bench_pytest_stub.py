"""How much does promptsuite add on top of the model? Time ``pytest`` on a stub endpoint.

Starts the OpenAI-compatible stub from ``tests/stub_server.py`` in this process, writes a
suite of N cases (three cheap expectations each) pointing at it, and runs
``python -m pytest`` on it several times in a subprocess. With a per-request delay D and
concurrency C the model alone needs at least ``N * D / C`` seconds (the floor); what is left
of the wall time, divided by N, is promptsuite's and pytest's overhead per case.

    python benchmarks/bench_pytest_stub.py --cases 1000 --delay-ms 0
    python benchmarks/bench_pytest_stub.py --cases 200 --delay-ms 50 --cached
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.stub_server import StubServer  # noqa: E402

CACHE_OFF = "off"
CACHE_ON = "use"


@dataclass(frozen=True)
class RunSample:
    """One pytest run."""

    wall_s: float
    returncode: int
    stub_requests: int
    max_in_flight: int
    output_tail: str


def write_suite(root: Path, cases: int, base_url: str) -> Path:
    """Write ``prompts/echo.yaml`` and ``suites/bench.yaml`` under ``root``; return the
    suites folder.

    Every case asks the stub to echo ``hello <i> world`` and checks the reply three ways.
    """
    prompts, suites = root / "prompts", root / "suites"
    prompts.mkdir(parents=True, exist_ok=True)
    suites.mkdir(parents=True, exist_ok=True)
    prompt = {"name": "echo", "messages": [{"role": "user", "content": "{{ text }}"}]}
    suite = {
        "prompt": "../prompts/echo.yaml",
        "models": [{"provider": "openai", "model": "stub", "label": "stub", "base_url": base_url}],
        "cases": [
            {
                "id": f"case-{i:04d}",
                "vars": {"text": f"hello {i} world"},
                "expect": [
                    {"type": "regex", "value": r"hello \d+"},
                    {"type": "contains", "value": "world"},
                    {"type": "not-icontains", "value": "error"},
                ],
            }
            for i in range(1, cases + 1)
        ],
    }
    (prompts / "echo.yaml").write_text(yaml.safe_dump(prompt, sort_keys=False), "utf-8")
    (suites / "bench.yaml").write_text(yaml.safe_dump(suite, sort_keys=False), "utf-8")
    # Pins pytest's rootdir here, away from any configuration above the temp folder.
    (root / "pytest.ini").write_text("[pytest]\n", "utf-8")
    return suites


def pytest_command(suites: Path, concurrency: int, cache: str, extra: list[str]) -> list[str]:
    """The pytest invocation being measured."""
    return [
        sys.executable,
        "-m",
        "pytest",
        str(suites),
        "-q",
        "-p",
        "no:cacheprovider",
        "--promptsuite-concurrency",
        str(concurrency),
        "--promptsuite-cache",
        cache,
        "--promptsuite-cache-path",
        str(suites.parent / "cache.sqlite"),
        *extra,
    ]


def child_env() -> dict[str, str]:
    """This environment, minus anything that would send the suite to a real endpoint."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_once(stub: StubServer, command: list[str], cwd: Path) -> RunSample:
    """Run pytest once and read the stub's counters for that run alone."""
    stub.reset()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=child_env(), capture_output=True, text=True)
    wall = time.perf_counter() - started
    stats = stub.stats()
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    return RunSample(wall, done.returncode, stats.total, stats.max_in_flight, tail)


def median_startup(code: str, runs: int) -> float:
    """Median wall time of ``python -c code``."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=child_env(), check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def summarize(
    mode: str, samples: list[RunSample], cases: int, delay_s: float, concurrency: int
) -> dict[str, str]:
    """One table row."""
    wall = statistics.median(s.wall_s for s in samples)
    floor = cases * delay_s / concurrency
    return {
        "mode": mode,
        "cases": str(cases),
        "delay ms": f"{delay_s * 1000:g}",
        "conc": str(concurrency),
        "median wall s": f"{wall:.3f}",
        "floor s": f"{floor:.3f}",
        "overhead ms/case": f"{(wall - floor) / cases * 1000:.2f}",
        "stub requests": "/".join(str(s.stub_requests) for s in samples),
        "max in-flight": str(max(s.max_in_flight for s in samples)),
        "exit codes": "/".join(str(s.returncode) for s in samples),
    }


def print_table(rows: list[dict[str, str]]) -> None:
    """Print rows as an aligned plain-text table."""
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(r[h]) for r in rows)) for h in headers}
    print("  ".join(h.rjust(widths[h]) for h in headers))
    for row in rows:
        print("  ".join(row[h].rjust(widths[h]) for h in headers))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when any pytest run failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--cached",
        action="store_true",
        help="also time runs served from a warm response cache (expect 0 stub requests)",
    )
    parser.add_argument(
        "--pytest-arg",
        action="append",
        default=[],
        help="extra argument for pytest, repeatable (e.g. --pytest-arg=-n2)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated suite folder")
    args = parser.parse_args(argv)
    delay_s = args.delay_ms / 1000.0

    workdir = Path(tempfile.mkdtemp(prefix="promptsuite-bench-"))
    rows: list[dict[str, str]] = []
    failures: list[RunSample] = []
    with StubServer(delay=delay_s, record=False) as stub:
        suites = write_suite(workdir, args.cases, stub.base_url)
        uncached = pytest_command(suites, args.concurrency, CACHE_OFF, args.pytest_arg)
        samples = [run_once(stub, uncached, workdir) for _ in range(args.runs)]
        rows.append(summarize("no cache", samples, args.cases, delay_s, args.concurrency))
        failures += [s for s in samples if s.returncode != 0]
        if args.cached:
            cached = pytest_command(suites, args.concurrency, CACHE_ON, args.pytest_arg)
            warm = run_once(stub, cached, workdir)
            failures += [warm] if warm.returncode != 0 else []
            samples = [run_once(stub, cached, workdir) for _ in range(args.runs)]
            rows.append(summarize("warm cache", samples, args.cases, 0.0, args.concurrency))
            failures += [s for s in samples if s.returncode != 0]

    print_table(rows)
    bare = median_startup("pass", args.runs)
    imported = median_startup("import promptsuite", args.runs)
    print(
        f"\npython -c 'import promptsuite': median {imported * 1000:.0f} ms "
        f"(bare interpreter {bare * 1000:.0f} ms, import alone {(imported - bare) * 1000:.0f} ms)"
    )
    if args.keep:
        print(f"suite kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print(f"\n{len(failures)} pytest run(s) failed; last output:\n{failures[-1].output_tail}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
