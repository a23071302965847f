"""The pytest layer: collect suite files, make items, report. The work is done elsewhere.

``pytest suites/`` collects every ``*.yaml`` under a ``suites`` folder (or any YAML file
named on the command line) as a suite, with one item per case x model x prompt variant.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import subprocess
import time
from collections import Counter
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptsuite import __version__
from promptsuite._files import copy_atomic
from promptsuite.config import (
    CHOICES,
    FLAGS,
    OPTIONS,
    PluginConfig,
    read_pyproject_table,
    resolve,
)
from promptsuite.errors import PromptsuiteError
from promptsuite.results import CaseResult, RunResults, summarize
from promptsuite.session import RunSession

if TYPE_CHECKING:
    from promptsuite.gate._baseline import Baseline
    from promptsuite.report._child import ReportProcess
    from promptsuite.runner import Job

_CONFIG_KEY = pytest.StashKey[PluginConfig]()
_SESSION_KEY = pytest.StashKey[RunSession]()
_STARTED_KEY = pytest.StashKey[float]()
_REPORT_PROCESS_KEY: pytest.StashKey[ReportProcess] = pytest.StashKey()
_REPORT_ATTR = "promptsuite"
_GATE_ATTR = "promptsuite_gate"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptsuite", "prompt regression suites")
    for name, help_text in OPTIONS.items():
        kwargs: dict[str, Any] = {"help": help_text, "default": None}
        if name == "model":
            kwargs["action"] = "append"
        if name in FLAGS:
            kwargs.update(action="store_const", const=True)
        if name in CHOICES:
            kwargs["choices"] = list(CHOICES[name])
        group.addoption(
            f"--promptsuite-{name}", dest=f"promptsuite_{name.replace('-', '_')}", **kwargs
        )
        parser.addini(f"promptsuite_{name.replace('-', '_')}", help_text)


def pytest_configure(config: pytest.Config) -> None:
    def lookup(name: str) -> Any:
        key = f"promptsuite_{name.replace('-', '_')}"
        value = config.getoption(key)
        return value if value is not None else (config.getini(key) or None)

    try:
        resolved = resolve(lookup, read_pyproject_table(config.rootpath), config.rootpath)
    except PromptsuiteError as exc:
        raise pytest.UsageError(f"promptsuite: {exc}") from None
    config.stash[_CONFIG_KEY] = resolved
    config.stash[_SESSION_KEY] = RunSession(resolved.settings)
    config.stash[_STARTED_KEY] = time.time()
    config.pluginmanager.register(_Recorder(config), "promptsuite-recorder")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml") or "__baselines__" in file_path.parts:
        return None
    try:
        relative = file_path.relative_to(parent.config.rootpath).parts
    except ValueError:
        relative = file_path.parts
    if "suites" in relative[:-1] or parent.session.isinitpath(file_path):
        return SuiteCollector.from_parent(parent, path=file_path)
    return None


class SuiteCollector(pytest.File):
    """A suite file. A file that fails to load becomes one erroring item, so other suites
    still run."""

    def collect(self) -> Iterable[pytest.Item]:
        # Imported here so that pytest runs without suites never load pydantic or Jinja2.
        from promptsuite.runner import plan_jobs
        from promptsuite.suite import load_suite

        config = self.config.stash[_CONFIG_KEY]
        display = _display(self.path, self.config.rootpath)
        try:
            suite = load_suite(self.path, display=display)
        except PromptsuiteError as exc:
            yield SuiteLoadErrorItem.from_parent(self, name="<load>", error=exc)
            return
        from promptsuite.gate._baseline import Baseline, baseline_path

        try:
            baseline = Baseline.load(baseline_path(self.path))
        except PromptsuiteError as exc:
            yield SuiteLoadErrorItem.from_parent(self, name="<baseline>", error=exc)
            return
        # Tags become markers (for -m); registering them keeps --strict-markers happy.
        for tag in sorted({tag for case in suite.cases for tag in case.tags}):
            self.config.addinivalue_line("markers", f"{tag}: promptsuite case tag")
        groups: dict[str, list[Job]] = {}
        for job in plan_jobs(suite, config.models or None):
            name = job.test_id.split("::", 1)[1]
            groups.setdefault(name[name.index("[") :], []).append(job)
            item = CaseItem.from_parent(self, name=name, job=job, baseline=baseline)
            for tag in job.case.tags:
                item.add_marker(tag)
            yield item
        if baseline is not None or config.baseline_missing == "fail":
            for param, jobs in groups.items():
                yield GateItem.from_parent(
                    self, name=f"__gate__{param}", jobs=jobs, baseline=baseline
                )


class _PlainItem(pytest.Item):
    """An item whose own outcomes (our errors, xfails) are reported as their message.

    pytest formats a traceback for every error and xfail, parsing the source of each frame;
    for a known failure or a model error that is noise, and it cost ~80 ms per item
    (25 xfails took 2-3 s of a 4.5 s cached run of the example suites).
    """

    def _repr_failure_py(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        if isinstance(excinfo.value, PromptsuiteError | pytest.xfail.Exception):
            return str(excinfo.value)
        return super()._repr_failure_py(excinfo, style)


class SuiteLoadErrorItem(_PlainItem):
    """Stands for a suite file that could not be loaded."""

    def __init__(self, *, error: PromptsuiteError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def setup(self) -> None:
        raise self.error

    def runtest(self) -> None:  # pragma: no cover - setup always raises
        raise self.error

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.name}: suite file could not be loaded"


class CaseFailed(Exception):
    """Raised by a case item whose output did not meet its expectations."""

    def __init__(self, result: CaseResult, note: str | None = None) -> None:
        super().__init__(result.test_id)
        self.result = result
        self.note = note


class GateFailed(Exception):
    """Raised by a suite gate whose verdict fails the run."""


class CaseItem(_PlainItem):
    """One case x model x prompt variant."""

    def __init__(self, *, job: Job, baseline: Baseline | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.baseline = baseline
        self.baseline_status: str | None = None
        self.result: CaseResult | None = None
        self.keywords.update(dict.fromkeys(job.case.tags, True))

    def setup(self) -> None:
        # Waiting happens in setup so that model and template errors report as test
        # *errors*; only unmet expectations are failures.
        self.result = self.config.stash[_SESSION_KEY].result(self.job)
        self.user_properties.append(("promptsuite_score", f"{self.result.score:.4f}"))
        self.user_properties.append(("promptsuite_passed", str(self.result.passed).lower()))
        if len(self.result.repeats) > 1:
            low, high = self.result.interval
            self.user_properties.append(("promptsuite_pass_rate", f"{self.result.pass_rate:.4f}"))
            self.user_properties.append(("promptsuite_pass_rate_ci", f"{low:.4f}-{high:.4f}"))
            self.user_properties.append(("promptsuite_flaky", str(self.result.flaky).lower()))
        if self.result.error is not None:
            raise CaseError(self.result)

    def runtest(self) -> None:
        from promptsuite.gate._baseline import compare_case, entry_key

        result = self.result
        assert result is not None
        if self.config.stash[_CONFIG_KEY].update_baseline:
            if not result.passed:
                pytest.xfail("failure recorded in the baseline being updated")
            return
        if self.baseline is None:
            if not result.passed:
                raise CaseFailed(result)
            return
        comparison = compare_case(self.baseline.entries.get(entry_key(result)), result)
        self.baseline_status = comparison.status
        self.user_properties.append(("promptsuite_baseline", comparison.status))
        if comparison.status == "known-failure":
            pytest.xfail(comparison.message)
        if comparison.status == "regression":
            raise CaseFailed(result, comparison.message)
        if comparison.status == "new" and not result.passed:
            raise CaseFailed(result, "fails, and is not in the baseline")

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, CaseFailed):
            text = format_failure(excinfo.value.result)
            return f"{excinfo.value.note}\n{text}" if excinfo.value.note else text
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.job.case.line - 1, self.name


class GateItem(_PlainItem):
    """The suite gate: a paired comparison of this run with the baseline, per model x
    prompt variant, over the cases both have."""

    def __init__(self, *, jobs: list[Job], baseline: Baseline | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = jobs
        self.baseline = baseline
        self.verdict: dict[str, Any] | None = None

    def runtest(self) -> None:
        from promptsuite.gate import compare_paired
        from promptsuite.gate._baseline import entry_key

        config = self.config.stash[_CONFIG_KEY]
        if config.update_baseline:
            pytest.skip("the baseline is being updated")
        if self.baseline is None:
            raise GateFailed(
                f"{_display(self.path, self.config.rootpath)} has no baseline; record one "
                "with --promptsuite-update-baseline"
            )
        session = self.config.stash[_SESSION_KEY]
        pairs = []
        for job in self.jobs:
            result = session.result(job)
            entry = self.baseline.entries.get(entry_key(result))
            if entry is not None and result.error is None:
                pairs.append((entry, result))
        verdict = compare_paired(
            [e.score for e, _ in pairs],
            [r.score for _, r in pairs],
            [e.passed for e, _ in pairs],
            [r.passed for _, r in pairs],
            margin=config.gate_margin,
        )
        self.verdict = {
            "suite": self.jobs[0].suite.name,
            "model": self.jobs[0].model.display,
            "variant": self.jobs[0].variant,
            **verdict.__dict__,
        }
        self.user_properties.append(("promptsuite_gate", verdict.verdict))
        self.user_properties.append(("promptsuite_gate_mean_diff", f"{verdict.mean_diff:.4f}"))
        if verdict.verdict == "fail" or (
            verdict.verdict == "inconclusive" and config.gate_inconclusive == "fail"
        ):
            raise GateFailed(f"suite gate: {verdict.reason}")

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, GateFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class CaseError(PromptsuiteError):
    """A case whose output could not be produced or checked."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(f"{result.error_kind}: {result.error}")
        self.result = result


def format_failure(result: CaseResult) -> str:
    """The failure text: rendered messages, output(s), and each failed check's reason."""
    checks = [c for r in result.repeats for c in r.checks]
    failed_count = sum(not c["passed"] for c in checks)
    lines = [f"{failed_count} of {len(checks)} expectations failed (score {result.score:.2f})"]
    if len(result.repeats) > 1:
        lines.append(_repeat_line(result))
    lines.append("messages:")
    for message in result.messages:
        lines.append(f"  [{message['role']}] " + _indent(message["content"]))
    for repeat in result.repeats:
        head = "output" if len(result.repeats) == 1 else f"output (repeat {repeat.index + 1})"
        lines.append(f"{head}:\n  " + _indent(repeat.output or "<empty>"))
        failed = [c for c in repeat.checks if not c["passed"]]
        if failed:
            lines.append("failed expectations:")
            lines.extend(f"  - {_check_name(c)}: {c['reason']}" for c in failed)
    return "\n".join(lines)


def _repeat_line(result: CaseResult) -> str:
    low, high = result.interval
    verdict = "passes" if result.passed else "fails"
    rule = result.reducer
    if result.min_pass_rate is not None:
        rule += f", min pass rate {result.min_pass_rate:.0%}"
    flaky = "flaky: " if result.flaky else ""
    return (
        f"{flaky}{result.passes}/{len(result.repeats)} repeats passed "
        f"(pass rate {result.pass_rate:.0%}, 95% CI {low:.0%}-{high:.0%}); "
        f"{verdict} under {rule}"
    )


def _check_name(check: dict[str, Any]) -> str:
    metric = check.get("metric")
    return f"{check['type']} ({metric})" if metric else str(check["type"])


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def _display(path: Path, rootpath: Path) -> str:
    try:
        return str(path.relative_to(rootpath))
    except ValueError:
        return str(path)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # Under xdist each worker collects everything but runs only what it is sent, so
    # workers start jobs item by item (see pytest_runtest_protocol) instead.
    if _is_worker(session.config):
        return
    jobs = [item.job for item in session.items if isinstance(item, CaseItem)]
    if jobs:
        session.config.stash[_SESSION_KEY].start(jobs)
        if session.config.stash[_CONFIG_KEY].report is not None:
            _start_report_process(session.config)


def _start_report_process(config: pytest.Config) -> None:
    # The report's chart stack takes ~0.8 s to import; a child process does that on another
    # core while the cases run, and renders the page from the results file at the end.
    from promptsuite.report._child import ReportProcess

    # Without the child (it could not start), the report is rendered in this process.
    with contextlib.suppress(OSError):
        config.stash[_REPORT_PROCESS_KEY] = ReportProcess()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _is_worker(item.config):
        jobs = [i.job for i in (item, nextitem) if isinstance(i, CaseItem)]
        item.config.stash[_SESSION_KEY].start(jobs)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, PromptsuiteError):
        # Our own errors already say where and what to do; a traceback would only bury that.
        report.longrepr = str(error)
    if isinstance(item, CaseItem) and item.result is not None:
        done = call.when == "call" or (call.when == "setup" and call.excinfo is not None)
        if done:
            data = item.result.to_dict()
            data["baseline_status"] = item.baseline_status
            setattr(report, _REPORT_ATTR, data)
    if isinstance(item, GateItem) and item.verdict is not None and call.when == "call":
        setattr(report, _GATE_ATTR, item.verdict)
    return report


class _Recorder:
    """Collects case results from reports (on the xdist controller too) and writes them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.collected: list[dict[str, Any]] = []
        self.gates: list[dict[str, Any]] = []
        self.baselines_written: list[Path] = []
        self.results_path: Path | None = None
        self.report_path: Path | None = None
        self.report_problem: str | None = None
        self._cases: list[CaseResult] | None = None

    @property
    def cases(self) -> list[CaseResult]:
        """The collected results, parsed once for the file, the baselines and the summary."""
        if self._cases is None:
            self._cases = [CaseResult.from_dict(d) for d in self.collected]
        return self._cases

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, _REPORT_ATTR, None)
        if data is not None:
            self.collected.append(data)
        gate = getattr(report, _GATE_ATTR, None)
        if gate is not None:
            self.gates.append(gate)

    def pytest_sessionfinish(self) -> None:
        if _is_worker(self.config) or not self.collected:
            return
        resolved = self.config.stash[_CONFIG_KEY]
        cases = self.cases
        metadata = _metadata(self.config, resolved, cases)
        metadata["gates"] = sorted(self.gates, key=lambda g: (g["suite"], g["model"]))
        run = RunResults(cases=cases, metadata=metadata)
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        # The pid keeps two runs that finish in the same microsecond from sharing a name.
        name = f"results-{stamp}-{os.getpid()}.json"
        written = run.write(resolved.results_dir / "runs" / name)
        self.results_path = copy_atomic(written, resolved.results_dir / "latest.json")
        if resolved.report is not None:
            # Before the baselines are rewritten, so the report compares with the old ones.
            try:
                self.report_path = _write_report(self.config, run, resolved, written)
            except (PromptsuiteError, OSError) as exc:
                # A report problem must never cost the run its results, which are written.
                self.report_problem = f"no HTML report written: {exc}"
        if resolved.update_baseline:
            self.baselines_written = _update_baselines(self.config.rootpath, cases)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if _is_worker(self.config) or not self.collected:
            return
        from tabulate import tabulate

        rows = summarize(self.cases)
        table = [
            [
                r.suite,
                r.model,
                r.variant,
                r.cases,
                r.passed,
                f"{r.pass_rate:.0%} ({r.interval[0]:.0%}-{r.interval[1]:.0%})",
                f"{r.mean_score:.2f}",
                r.flaky,
                r.errors,
                r.tokens,
                f"{r.mean_latency_s * 1000:.0f} ms",
            ]
            for r in rows
        ]
        headers = [
            "suite",
            "model",
            "prompt",
            "cases",
            "passed",
            "pass rate (95% CI)",
            "mean score",
            "flaky",
            "errors",
            "tokens",
            "mean latency",
        ]
        terminalreporter.section("promptsuite")
        terminalreporter.write_line(tabulate(table, headers=headers, tablefmt="simple"))
        flaky = [c for c in self.cases if c.flaky]
        if flaky:
            terminalreporter.write_line("")
            terminalreporter.write_line(f"flaky cases ({len(flaky)}): repeats disagree")
            for case in sorted(flaky, key=lambda c: c.test_id):
                terminalreporter.write_line(f"  {case.test_id}: {_repeat_line(case)}")
        calls, hits = _call_counts(self.cases)
        tail = ""
        if self.results_path is not None:
            tail = f"; results: {_display(self.results_path, self.config.rootpath)}"
        if self.report_path is not None:
            tail += f"; report: {_display(self.report_path, self.config.rootpath)}"
        terminalreporter.write_line(f"model calls: {calls}, cache hits: {hits}{tail}")
        if self.report_problem:
            terminalreporter.write_line(self.report_problem, yellow=True)
        statuses = Counter(c.baseline_status for c in self.cases if c.baseline_status)
        if statuses:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
            terminalreporter.write_line(f"against baselines: {counts}")
            if statuses["improved"]:
                terminalreporter.write_line(
                    "improved cases pass now; record them with --promptsuite-update-baseline"
                )
        if self.gates:
            gate_rows = [
                [
                    g["suite"],
                    g["model"],
                    g["variant"],
                    g["verdict"],
                    g["n_cases"],
                    f"{g['mean_diff']:+.3f}",
                    f"[{g['ci_low']:+.3f}, {g['ci_high']:+.3f}]",
                    f"{g['pass_to_fail']}/{g['fail_to_pass']}",
                    f"{g['p_value_mcnemar']:.3g}",
                    g["cases_needed"] if g["verdict"] == "inconclusive" else "",
                ]
                for g in sorted(self.gates, key=lambda g: (g["suite"], g["model"]))
            ]
            gate_headers = [
                "suite",
                "model",
                "prompt",
                "gate",
                "cases",
                "mean diff",
                "95% CI",
                "flips -/+",
                "McNemar p",
                "cases needed",
            ]
            terminalreporter.write_line("")
            terminalreporter.write_line(
                tabulate(gate_rows, headers=gate_headers, tablefmt="simple", disable_numparse=True)
            )
        for path in self.baselines_written:
            terminalreporter.write_line(f"baseline written: {_display(path, self.config.rootpath)}")


def _write_report(
    config: pytest.Config, run: RunResults, resolved: PluginConfig, results_file: Path
) -> Path:
    """Render the HTML report from the results file, plus a timestamped copy beside it."""
    assert resolved.report is not None
    copy = results_file.with_name(
        results_file.name.replace("results-", "report-").replace(".json", ".html")
    )
    child = config.stash.get(_REPORT_PROCESS_KEY, None)
    if child is not None:
        del config.stash[_REPORT_PROCESS_KEY]
        return child.render(
            results_file,
            resolved.report,
            root=config.rootpath,
            prices=resolved.prices,
            copy_to=copy,
        )
    from promptsuite.report import write_report

    written: Path = write_report(
        run, resolved.report, root=config.rootpath, prices=resolved.prices, copy_to=copy
    )
    return written


def _update_baselines(rootdir: Path, cases: list[CaseResult]) -> list[Path]:
    """Write each run suite's baseline, pruning cases that left the suite file."""
    from promptsuite.gate._baseline import Baseline, baseline_path, updated
    from promptsuite.suite import load_suite

    by_suite: dict[str, list[CaseResult]] = {}
    for case in cases:
        by_suite.setdefault(case.suite_path, []).append(case)
    written = []
    for suite_path, results in sorted(by_suite.items()):
        path = Path(suite_path)
        path = path if path.is_absolute() else rootdir / path
        suite = load_suite(path, display=suite_path)
        target = baseline_path(path)
        fresh = updated(Baseline.load(target), suite.name, results, {c.id for c in suite.cases})
        written.append(fresh.write(target))
    return written


def pytest_sessionfinish(session: pytest.Session) -> None:
    session.config.stash[_SESSION_KEY].close()


def pytest_unconfigure(config: pytest.Config) -> None:
    child = config.stash.get(_REPORT_PROCESS_KEY, None)
    if child is not None:  # never asked for a report: nothing ran, or the run was stopped
        child.close()


def _metadata(
    config: pytest.Config, resolved: PluginConfig, cases: list[CaseResult]
) -> dict[str, Any]:
    calls, hits = _call_counts(cases)
    settings = resolved.settings
    return {
        "started": _dt.datetime.fromtimestamp(config.stash[_STARTED_KEY], _dt.UTC).isoformat(),
        "finished": _dt.datetime.now(_dt.UTC).isoformat(),
        "promptsuite": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(config.rootpath),
        "settings": {
            "concurrency": settings.concurrency,
            "cache_mode": settings.cache_mode.value,
            "repeat": settings.repeat,
            "models": [m.display for m in resolved.models],
        },
        "model_calls": calls,
        "cache_hits": hits,
    }


def _call_counts(cases: list[CaseResult]) -> tuple[int, int]:
    """(model calls, cache hits) over every sample that produced a generation."""
    generations = [r.generation for c in cases for r in c.repeats if r.generation]
    calls = sum(not g.get("cached") for g in generations)
    return calls, len(generations) - calls


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
