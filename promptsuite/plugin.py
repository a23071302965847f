"""The pytest layer: collect suite files, make items, report. The work is done elsewhere.

``pytest suites/`` collects every ``*.yaml`` under a ``suites`` folder (or any YAML file
named on the command line) as a suite, with one item per case x model x prompt variant.
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import time
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptsuite import __version__
from promptsuite.config import OPTIONS, PluginConfig, read_pyproject_table, resolve
from promptsuite.errors import PromptsuiteError
from promptsuite.results import CaseResult, RunResults, copy_atomic, summarize
from promptsuite.session import RunSession

if TYPE_CHECKING:
    from promptsuite.runner import Job

_CONFIG_KEY = pytest.StashKey[PluginConfig]()
_SESSION_KEY = pytest.StashKey[RunSession]()
_STARTED_KEY = pytest.StashKey[float]()
_REPORT_ATTR = "promptsuite"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptsuite", "prompt regression suites")
    for name, help_text in OPTIONS.items():
        kwargs: dict[str, Any] = {"help": help_text, "default": None}
        if name == "model":
            kwargs["action"] = "append"
        if name == "cache":
            kwargs["choices"] = ["use", "refresh", "off", "replay"]
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
        # Tags become markers (for -m); registering them keeps --strict-markers happy.
        for tag in sorted({tag for case in suite.cases for tag in case.tags}):
            self.config.addinivalue_line("markers", f"{tag}: promptsuite case tag")
        for job in plan_jobs(suite, config.models or None):
            item = CaseItem.from_parent(self, name=job.test_id.split("::", 1)[1], job=job)
            for tag in job.case.tags:
                item.add_marker(tag)
            yield item


class SuiteLoadErrorItem(pytest.Item):
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

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.test_id)
        self.result = result


class CaseItem(pytest.Item):
    """One case x model x prompt variant."""

    def __init__(self, *, job: Job, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.result: CaseResult | None = None
        self.keywords.update(dict.fromkeys(job.case.tags, True))

    def setup(self) -> None:
        # Waiting happens in setup so that model and template errors report as test
        # *errors*; only unmet expectations are failures.
        self.result = self.config.stash[_SESSION_KEY].result(self.job)
        self.user_properties.append(("promptsuite_score", f"{self.result.score:.4f}"))
        self.user_properties.append(("promptsuite_passed", str(self.result.passed).lower()))
        if self.result.error is not None:
            raise CaseError(self.result)

    def runtest(self) -> None:
        assert self.result is not None
        if not self.result.passed:
            raise CaseFailed(self.result)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, CaseFailed):
            return format_failure(excinfo.value.result)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.job.case.line - 1, self.name


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
            setattr(report, _REPORT_ATTR, item.result.to_dict())
    return report


class _Recorder:
    """Collects case results from reports (on the xdist controller too) and writes them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.collected: list[dict[str, Any]] = []
        self.results_path: Path | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, _REPORT_ATTR, None)
        if data is not None:
            self.collected.append(data)

    def pytest_sessionfinish(self) -> None:
        if _is_worker(self.config) or not self.collected:
            return
        resolved = self.config.stash[_CONFIG_KEY]
        cases = [CaseResult.from_dict(d) for d in self.collected]
        run = RunResults(cases=cases, metadata=_metadata(self.config, resolved, cases))
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        written = run.write(resolved.results_dir / "runs" / f"results-{stamp}.json")
        self.results_path = copy_atomic(written, resolved.results_dir / "latest.json")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if _is_worker(self.config) or not self.collected:
            return
        from tabulate import tabulate

        rows = summarize(CaseResult.from_dict(d) for d in self.collected)
        table = [
            [
                r.suite,
                r.model,
                r.variant,
                r.cases,
                r.passed,
                f"{r.pass_rate:.0%}",
                f"{r.mean_score:.2f}",
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
            "pass rate",
            "mean score",
            "errors",
            "tokens",
            "mean latency",
        ]
        terminalreporter.section("promptsuite")
        terminalreporter.write_line(tabulate(table, headers=headers, tablefmt="simple"))
        generations = [
            r["generation"] for d in self.collected for r in d["repeats"] if r["generation"]
        ]
        calls = sum(not g.get("cached") for g in generations)
        tail = ""
        if self.results_path is not None:
            tail = f"; results: {_display(self.results_path, self.config.rootpath)}"
        terminalreporter.write_line(
            f"model calls: {calls}, cache hits: {len(generations) - calls}{tail}"
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    session.config.stash[_SESSION_KEY].close()


def _metadata(
    config: pytest.Config, resolved: PluginConfig, cases: list[CaseResult]
) -> dict[str, Any]:
    generations = [r.generation for c in cases for r in c.repeats if r.generation]
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
        "model_calls": sum(not g.get("cached") for g in generations),
        "cache_hits": sum(bool(g.get("cached")) for g in generations),
    }


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
