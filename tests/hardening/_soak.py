"""The fault soak: a large suite run by real pytest against the seeded fault server.

Shared by ``tests/hardening/test_fault_soak.py`` (which asserts on it) and
``benchmarks/fault_soak.py`` (which prints its figures). Everything a check needs is known
before the run: the schedule says how each case must end; the run's JUnit XML, results
file and cache say how it did end.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.fault_server import DEFAULT_WEIGHTS, FAULTS, FaultSchedule

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SoakConfig:
    """Size of the run and the provider settings under test.

    Attributes:
        cases: Cases in all, split evenly over ``suites`` files.
        suites: Suite files.
        seed: Seed of the fault schedule.
        timeout: The provider's per-attempt timeout, in seconds. Generous, so that a
            normal answer never times out on a busy machine; only ``hang`` does.
        max_retries: Retries after the first attempt.
        backoff_base: First backoff ceiling, in seconds.
        backoff_max: Largest backoff ceiling, in seconds.
        concurrency: promptsuite's global bound on requests in flight.
        fail_every: Every n-th case expects text the echo never contains, so it fails.
        without: Fault names left out of the schedule (their share goes to ``ok``).
    """

    cases: int = 400
    suites: int = 2
    seed: int = 20240611
    timeout: float = 5.0
    max_retries: int = 2
    backoff_base: float = 0.02
    backoff_max: float = 0.1
    concurrency: int = 64
    fail_every: int = 10
    without: tuple[str, ...] = ()

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1


@dataclass(frozen=True)
class PlannedCase:
    """One case as written: its test id, its prompt and whether its checks can pass."""

    test_id: str
    prompt: str
    fails: bool


def schedule_for(config: SoakConfig) -> FaultSchedule:
    """The fault schedule used with ``config``: hangs outlast the timeout."""
    weights = dict(DEFAULT_WEIGHTS)
    for name in config.without:
        weights["ok"] += weights.pop(name)
    return FaultSchedule(config.seed, weights, hang_s=config.timeout + 1.0)


def write_project(root: Path, base_url: str, config: SoakConfig) -> list[PlannedCase]:
    """Write the suites under ``root/suites``; return every planned case."""
    suites = root / "suites"
    suites.mkdir(parents=True, exist_ok=True)
    model = {
        "provider": "openai",
        "model": "fault-model",
        "label": "flaky",
        "base_url": base_url,
        "timeout": config.timeout,
        "max_retries": config.max_retries,
        "backoff_base": config.backoff_base,
        "backoff_max": config.backoff_max,
        "max_concurrency": config.concurrency,
    }
    planned: list[PlannedCase] = []
    per_suite = math.ceil(config.cases / config.suites)
    for s in range(config.suites):
        cases = []
        for i in range(s * per_suite, min((s + 1) * per_suite, config.cases)):
            fails = i % config.fail_every == config.fail_every - 1
            prompt = f"soak case {i} says hello"
            expect = [{"type": "contains", "value": "says hello"}]
            if fails:
                expect.append({"type": "contains", "value": "never echoed"})
            case_id = f"c{i:04d}"
            cases.append({"id": case_id, "vars": {"text": prompt}, "expect": expect})
            planned.append(PlannedCase(f"suites/soak{s}.yaml::{case_id}[flaky]", prompt, fails))
        suite = {"prompt": {"user": "{{ text }}"}, "models": [model], "cases": cases}
        (suites / f"soak{s}.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    return planned


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a pytest subprocess: no promptsuite or OpenAI settings leak in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROMPTSUITE_", "OPENAI_", "PYTEST_"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def pytest_command(*args: str) -> list[str]:
    """``python -m pytest`` with the options every hardening run uses."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:benchmark",
        "-q",
        "--junitxml=junit.xml",
        *args,
    ]


@dataclass
class RunReport:
    """What one pytest run produced, compared with what the schedule says it must."""

    returncode: int
    wall_s: float
    output: str
    requests: int
    injected: dict[str, int]
    prompts_requested: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    cache_rows: int = 0
    model_calls: int = 0
    cache_hits: int = 0

    @property
    def retries(self) -> int:
        """Requests beyond the first for each prompt the server saw."""
        return self.requests - self.prompts_requested


def run_soak(
    root: Path,
    schedule: FaultSchedule,
    planned: list[PlannedCase],
    config: SoakConfig,
    *extra_args: str,
    timeout_s: float = 600.0,
) -> RunReport:
    """Run pytest on the project once and collect what it wrote."""
    schedule.reset()
    started = time.monotonic()
    proc = subprocess.run(
        pytest_command("--promptsuite-concurrency", str(config.concurrency), *extra_args),
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    wall = time.monotonic() - started
    injected = schedule.injected()
    report = RunReport(
        returncode=proc.returncode,
        wall_s=wall,
        output=proc.stdout + proc.stderr,
        requests=sum(injected.values()),
        injected=injected,
        prompts_requested=len(schedule.attempts()),
    )
    _read_outcomes(root, planned, report)
    return report


def _read_outcomes(root: Path, planned: list[PlannedCase], report: RunReport) -> None:
    junit = junit_outcomes(root / "junit.xml")
    results = results_by_id(root / "reports" / "latest.json")
    report.duplicated = sorted(k for k, n in results.items() if len(n) > 1)
    report.duplicated += sorted(k for k, n in junit.items() if len(n) > 1 and k not in results)
    for case in planned:
        if case.test_id not in results or case.test_id not in junit:
            report.lost.append(case.test_id)
            continue
        result = results[case.test_id][0]
        report.outcomes[junit[case.test_id][0]] += 1
        if result["error"] is not None:
            report.error_kinds[result["error_kind"]] += 1
    extra = set(results) - {c.test_id for c in planned}
    report.unexpected.extend(f"{t}: not a planned case" for t in sorted(extra))
    data = json.loads((root / "reports" / "latest.json").read_text(encoding="utf-8"))
    report.model_calls = data["metadata"]["model_calls"]
    report.cache_hits = data["metadata"]["cache_hits"]
    report.cache_rows = cache_rows(root / ".promptsuite" / "cache.sqlite")


def junit_outcomes(path: Path) -> dict[str, list[str]]:
    """Test id -> outcomes (passed, failed, error, skipped) from a JUnit XML file."""
    outcomes: dict[str, list[str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        suite_file = classname.removesuffix(".yaml").replace(".", "/") + ".yaml"
        test_id = f"{suite_file}::{name}"
        kinds = {child.tag for child in case}
        if "error" in kinds:
            outcome = "error"
        elif "failure" in kinds:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "skipped"
        else:
            outcome = "passed"
        outcomes.setdefault(test_id, []).append(outcome)
    return outcomes


def results_by_id(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Test id -> every case record with that id in a results file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, list[dict[str, Any]]] = {}
    for case in data["cases"]:
        found.setdefault(case["test_id"], []).append(case)
    return found


def cache_rows(path: Path) -> int:
    """Responses stored in a cache file (0 when there is none)."""
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
        except sqlite3.OperationalError:  # created, but its table not yet
            return 0


def mismatches(
    report: RunReport,
    root: Path,
    schedule: FaultSchedule,
    planned: list[PlannedCase],
    config: SoakConfig,
) -> list[str]:
    """Every way a first run's outcomes differ from what the schedule dictates."""
    problems = list(report.unexpected)
    results = results_by_id(root / "reports" / "latest.json")
    junit = junit_outcomes(root / "junit.xml")
    attempts = schedule.attempts()
    for case in planned:
        if case.test_id not in results or case.test_id not in junit:
            continue
        expected = schedule.expect(case.prompt, config.max_attempts)
        result = results[case.test_id][0]
        outcome = junit[case.test_id][0]
        want = "error" if expected.error_kind else ("failed" if case.fails else "passed")
        if outcome != want:
            problems.append(f"{case.test_id}: {outcome}, expected {want} ({expected.faults})")
        if result["error_kind"] != expected.error_kind:
            problems.append(
                f"{case.test_id}: error kind {result['error_kind']}, expected "
                f"{expected.error_kind} ({expected.faults})"
            )
        if expected.reason and expected.reason not in (result["error"] or ""):
            problems.append(f"{case.test_id}: error {result['error']!r} lacks {expected.reason!r}")
        if attempts.get(case.prompt, 0) != expected.attempts:
            problems.append(
                f"{case.test_id}: {attempts.get(case.prompt, 0)} requests, expected "
                f"{expected.attempts} ({expected.faults})"
            )
    return problems


def expected_injections(
    schedule: FaultSchedule, planned: list[PlannedCase], config: SoakConfig
) -> Counter[str]:
    """Requests the server must answer with each fault over a first run."""
    counts: Counter[str] = Counter()
    for case in planned:
        counts.update(schedule.expect(case.prompt, config.max_attempts).faults)
    return counts


def time_bound_s(config: SoakConfig, cases: int, parallel: int, startup_s: float = 60.0) -> float:
    """A generous upper bound on a run's wall time, from the configured limits alone.

    The slowest case waits ``timeout`` on every attempt plus the largest pause between
    attempts (the 429 ``Retry-After`` or the backoff ceiling); cases run ``parallel`` at a
    time. Tripled, plus pytest's own start-up and collection.
    """
    schedule = schedule_for(config)
    pause = max(float(schedule.retry_after), config.backoff_max)
    worst_case = config.max_attempts * config.timeout + config.max_retries * pause
    waves = math.ceil(cases / max(parallel, 1))
    return 3 * waves * worst_case + startup_s


def error_reasons() -> dict[str, str]:
    """Error class -> the fault names that end in it, for the figures."""
    reasons: dict[str, list[str]] = {}
    for fault in FAULTS.values():
        if fault.error_kind:
            reasons.setdefault(fault.error_kind, []).append(fault.name)
    return {kind: ", ".join(names) for kind, names in reasons.items()}
