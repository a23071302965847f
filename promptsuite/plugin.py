"""The pytest layer: collect suite files, make items, report. The work is done elsewhere.

``pytest suites/`` collects every ``*.yaml`` under a ``suites`` folder (or any YAML file
named on the command line) as a suite, with one item per case x model x prompt variant and
one gate item per suite x model x prompt. Hooks delegate: :class:`~promptsuite.session.RunSession`
runs the jobs and finishes the run, :mod:`promptsuite.gate` decides baselines and gates,
:mod:`promptsuite.console` writes the summary.

At about 500 lines it stays whole: it is pytest's side only (the hooks in the order pytest
calls them, the collector and the three item classes), each piece a few lines that hand
the work to the core, and read in one place the hooks show how a run flows.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptsuite.models import call_helper


def names_suites(args: Iterable[str]) -> bool:
    """Whether command-line paths name suites: a ``suites`` folder or a YAML file."""
    for arg in args:
        path = Path(arg.split("::", 1)[0])
        if path.suffix in (".yaml", ".yml") or "suites" in path.parts:
            return True
    return False


# Before the imports below (~0.05-0.1 s): the helper's import of the openai client is the
# longest step of a short run, so it starts as soon as this module loads.
call_helper.start_from_command_line(sys.argv, os.environ, names_suites)

from promptsuite.config import (  # noqa: E402
    CHOICES,
    FLAGS,
    OPTIONS,
    PluginConfig,
    read_pyproject_table,
    resolve,
)
from promptsuite.errors import CaseError, CaseFailed, GateFailed, PromptsuiteError  # noqa: E402
from promptsuite.gate import GateResult  # noqa: E402
from promptsuite.results import CaseResult  # noqa: E402
from promptsuite.session import FinishedRun, RunSession, ShardPlan, SuiteFiles  # noqa: E402

if TYPE_CHECKING:
    from promptsuite.gate import Baseline
    from promptsuite.labels import CalibrationReport, LabelsFile
    from promptsuite.runner import Job

_CONFIG_KEY = pytest.StashKey[PluginConfig]()
_SESSION_KEY = pytest.StashKey[RunSession]()
_STATE_KEY = pytest.StashKey["_RunState"]()
_EARLY_HELPER_KEY = pytest.StashKey[bool]()
_GC_PAUSED_KEY = pytest.StashKey[bool]()
# Reports carry results from xdist workers to the controller as these attributes.
_CASE_ATTR = "promptsuite"
_GATE_ATTR = "promptsuite_gate"
# An xdist worker hands the controller its shard's plan through its workeroutput.
_PLAN_OUTPUT = "promptsuite_shard_plan"


@dataclass(eq=False)  # a plugin object: pluggy keeps plugins in sets, by identity
class _RunState:
    """What collection loaded, what the controller gathers from the reports, and what
    finishing the run wrote.

    Registered as a plugin so it sees every report, on the xdist controller too.
    """

    started: float = field(default_factory=time.time)
    suites: SuiteFiles = field(default_factory=SuiteFiles)
    collected: list[CaseResult | dict[str, Any]] = field(default_factory=list)
    gates: list[GateResult | dict[str, Any]] = field(default_factory=list)
    plan: ShardPlan | None = None
    finished: FinishedRun | None = None
    step_summary_problem: str | None = None
    labels: dict[str, LabelsFile] = field(default_factory=dict)
    labelled_jobs: list[Job] = field(default_factory=list)
    calibration: CalibrationReport | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = getattr(report, _CASE_ATTR, None)
        if case is not None:
            self.collected.append(case)
        gate_result = getattr(report, _GATE_ATTR, None)
        if gate_result is not None:
            self.gates.append(gate_result)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        plan = getattr(node, "workeroutput", {}).get(_PLAN_OUTPUT)
        if plan is not None and self.plan is None:
            self.plan = ShardPlan.from_dict(plan)


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


def _resolve(config: pytest.Config, options: Any) -> PluginConfig:
    """The plugin's settings from ``options`` (parsed command-line options), the ini file,
    ``[tool.promptsuite]`` and the environment."""

    def lookup(name: str) -> Any:
        key = f"promptsuite_{name.replace('-', '_')}"
        value = getattr(options, key, None)
        return value if value is not None else (config.getini(key) or None)

    return resolve(lookup, read_pyproject_table(config.rootpath), config.rootpath)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """Start the model-call helper as early as pytest lets a plugin see its options, or
    keep or stop the one this module started at import from the raw command line.

    Importing the openai client takes the helper longer than pytest takes to start and
    collect, so every earlier moment shortens a run. ``pytest_configure`` decides again on
    the final options and stops a helper it would not have started.

    Also takes the rest of this package off pytest's assertion rewriting (see
    :func:`_load_unrewritten`).
    """
    _load_unrewritten(early_config)
    guessed = call_helper.take_guess()  # started at import from the raw command line
    options = early_config.known_args_namespace
    parallel = getattr(options, "numprocesses", None) or getattr(options, "dist", "no") != "no"
    paths = list(getattr(options, "file_or_dir", None) or early_config.getini("testpaths"))
    resolved = None
    if not parallel and names_suites(paths):
        with contextlib.suppress(PromptsuiteError):  # pytest_configure reports it
            resolved = _resolve(early_config, options)
    if resolved is None or not resolved.model_process:
        if guessed:
            RunSession.stop_model_process()  # the guess from the raw command line was wrong
        return
    if guessed and not RunSession.starts_model_process_at_once(resolved.settings):
        RunSession.stop_model_process()  # it starts at the first cache miss, or never
    RunSession.start_model_process(resolved.settings)
    early_config.stash[_EARLY_HELPER_KEY] = True


def _load_unrewritten(config: pytest.Config) -> None:
    """Let promptsuite's modules imported from now on (collection imports ~60: the suite
    loader, the checks, the runner, the report) load as plain Python.

    pytest marks every package of a plugin's distribution for assertion rewriting, so each
    of those modules went through the rewriter's lookups and its own bytecode cache: ~20-40
    ms of a cached run. None of their assertions is a test's, so nothing a user sees
    changes. pytest offers no switch for this (``PYTEST_DONT_REWRITE`` in a docstring still
    sends the module through the rewriter): the marks are its private attributes. Where
    they are not found as expected (another pytest), nothing is changed and the modules are
    rewritten as before.
    """
    hook = getattr(config.pluginmanager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    decided = getattr(hook, "_marked_for_rewrite_cache", None)
    if isinstance(marked, set) and isinstance(decided, dict):
        marked.discard(__name__.partition(".")[0])
        decided.clear()  # pytest's memo of which names are marked, recomputed on demand


def pytest_configure(config: pytest.Config) -> None:
    try:
        resolved = _resolve(config, config.option)
    except PromptsuiteError as exc:
        raise pytest.UsageError(f"promptsuite: {exc}") from None
    config.stash[_CONFIG_KEY] = resolved
    if _runs_jobs(config) and resolved.model_process and names_suites(config.args):
        # The helper imports the openai client while pytest collects.
        RunSession.start_model_process(resolved.settings)
    elif config.stash.get(_EARLY_HELPER_KEY, False):
        RunSession.stop_model_process()
    config.stash[_SESSION_KEY] = RunSession(resolved.settings)
    state = config.stash[_STATE_KEY] = _RunState()
    config.pluginmanager.register(state, "promptsuite-state")


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
        from promptsuite.console import shown
        from promptsuite.gate import Baseline, baseline_path
        from promptsuite.runner import plan_jobs
        from promptsuite.suite import load_suite

        _pause_collector(self.config)
        config = self.config.stash[_CONFIG_KEY]
        try:
            suite = load_suite(self.path, display=shown(self.path, self.config.rootpath))
            baseline = Baseline.load(baseline_path(self.path))
        except PromptsuiteError as exc:
            yield SuiteLoadErrorItem.from_parent(self, name="<load>", error=exc)
            return
        state = self.config.stash[_STATE_KEY]
        state.suites.add(suite, baseline)
        # Tags become markers (for -m); registering them keeps --strict-markers happy.
        for tag in sorted({tag for case in suite.cases for tag in case.tags}):
            self.config.addinivalue_line("markers", f"{tag}: promptsuite case tag")
        groups: dict[str, list[Job]] = {}
        jobs = plan_jobs(suite, config.models or None)
        if config.judge_calibration != "off":
            _load_labels(state, suite.path, self.path, jobs, self.config.rootpath)
        openai = any(job.model.provider == "openai" for job in jobs)
        if openai and config.model_process and _runs_jobs(self.config):
            RunSession.start_model_process(config.settings)
        for job in jobs:
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


class CaseItem(_PlainItem):
    """One case x model x prompt variant."""

    def __init__(self, *, job: Job, baseline: Baseline | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.baseline = baseline
        self.result: CaseResult | None = None
        self.keywords.update(dict.fromkeys(job.case.tags, True))

    def setup(self) -> None:
        # Waiting happens in setup so that model and template errors report as test
        # *errors*; only failed checks are failures.
        result = self.result = self.config.stash[_SESSION_KEY].result(self.job)
        self.user_properties.append(("promptsuite_score", f"{result.score:.4f}"))
        self.user_properties.append(("promptsuite_passed", str(result.passed).lower()))
        if len(result.repeats) > 1:
            low, high = result.interval
            self.user_properties.append(("promptsuite_pass_rate", f"{result.pass_rate:.4f}"))
            self.user_properties.append(("promptsuite_pass_rate_ci", f"{low:.4f}-{high:.4f}"))
            self.user_properties.append(("promptsuite_flaky", str(result.flaky).lower()))
        if result.error is not None:
            raise CaseError(f"{result.error_kind}: {result.error}")

    def runtest(self) -> None:
        from dataclasses import replace

        from promptsuite.console import format_failure
        from promptsuite.gate import compare_case, entry_key

        result = self.result
        assert result is not None
        config = self.config.stash[_CONFIG_KEY]
        if config.update_baseline:
            if not result.passed:
                pytest.xfail("failure recorded in the baseline being updated")
            return
        if config.judge_calibration == "require" and _judged(result):
            from promptsuite.labels import case_rests_on

            reason = case_rests_on(result, _calibration(self.config))
            if reason is not None:
                self.result = replace(result, uncalibrated=reason)
                self.user_properties.append(("promptsuite_uncalibrated", reason))
                _withhold(f"uncalibrated: {reason}")
        if self.baseline is None:
            if not result.passed:
                raise CaseFailed(format_failure(result))
            return
        comparison = compare_case(self.baseline.entries.get(entry_key(result)), result)
        self.result = replace(result, baseline_status=comparison.status)
        self.user_properties.append(("promptsuite_baseline", comparison.status))
        if comparison.status == "known-failure":
            pytest.xfail(comparison.message)
        if comparison.status == "regression":
            raise CaseFailed(format_failure(result, comparison.message))
        if comparison.status == "new" and not result.passed:
            raise CaseFailed(format_failure(result, "fails, and is not in the baseline"))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.job.case.line - 1, self.name


class GateItem(_PlainItem):
    """The suite gate: a paired comparison of this run with the baseline, per model x
    prompt variant, over the cases both have."""

    def __init__(self, *, jobs: list[Job], baseline: Baseline | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = jobs
        self.baseline = baseline
        self.result: GateResult | None = None

    def runtest(self) -> None:
        from promptsuite.console import shown
        from promptsuite.gate import gate

        config = self.config.stash[_CONFIG_KEY]
        if config.update_baseline:
            pytest.skip("the baseline is being updated")
        if self.baseline is None:
            raise GateFailed(
                f"{shown(self.path, self.config.rootpath)} has no baseline; record one "
                "with --promptsuite-update-baseline"
            )
        session = self.config.stash[_SESSION_KEY]
        cases = [session.result(job) for job in self.jobs]
        result = self.result = gate(self.baseline, cases, margin=config.gate_margin)
        if config.judge_calibration == "require" and any(_judged(c) for c in cases):
            from dataclasses import replace

            from promptsuite.labels import gate_rests_on

            reason = gate_rests_on(cases, _calibration(self.config))
            result = self.result = replace(result, uncalibrated=reason)
        self.user_properties.append(("promptsuite_gate", result.decision))
        self.user_properties.append(
            ("promptsuite_gate_mean_diff", f"{result.verdict.mean_diff:.4f}")
        )
        failure = result.failure(config.gate_inconclusive)
        if failure is not None:
            raise GateFailed(failure)
        if result.uncalibrated is not None:
            pytest.skip(f"suite gate: uncalibrated: {result.uncalibrated}")

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def _load_labels(
    state: _RunState, suite_path: str, file: Path, jobs: list[Job], root: Path
) -> None:
    """Read a suite's labels file and note the jobs whose cases it labels: the judges'
    calibration needs their results."""
    from promptsuite.console import shown
    from promptsuite.labels import labels_path, read_labels

    path = labels_path(file)
    labels = state.labels[suite_path] = read_labels(path, shown(path, root))
    labelled = {placed.label.case for placed in labels.labels}
    state.labelled_jobs += [job for job in jobs if job.case.id in labelled]


def _withhold(reason: str) -> None:
    """Report a case's verdict as withheld: a skip shown at the case's own place in its
    suite file, not at this line."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


def _judged(result: CaseResult) -> bool:
    """Whether any check of the case was model-graded."""
    return any(check.grader is not None for r in result.repeats for check in r.checks)


def _calibration(config: pytest.Config) -> CalibrationReport:
    """The run's judges measured against the suites' labels, once: from the results of the
    cases the labels name (waiting for them, or running them in an xdist worker or a
    shard that was not handed them)."""
    state = config.stash[_STATE_KEY]
    if state.calibration is None:
        from promptsuite.labels import calibrate

        session = config.stash[_SESSION_KEY]
        state.calibration = calibrate(
            [session.result(job) for job in state.labelled_jobs],
            state.labels,
            state.suites.case_ids,
            threshold=config.stash[_CONFIG_KEY].judge_kappa,
        )
    return state.calibration


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _runs_jobs(config: pytest.Config) -> bool:
    """False on an xdist controller: its workers run the jobs."""
    return _is_worker(config) or config.getoption("dist", "no") == "no"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """With ``--promptsuite-shard I/N``, keep only this shard's items (after -k and -m).

    Gate items go too: a gate pairs every case of its suite, so ``promptsuite merge``
    computes it once the shards are joined.
    """
    shard = config.stash[_CONFIG_KEY].shard
    if shard is None:
        return
    from promptsuite.session import plan_shard

    config.stash[_STATE_KEY].plan = plan_shard(
        [item.job for item in items if isinstance(item, CaseItem)], shard
    )
    kept, dropped = [], []
    for item in items:
        item_id = item.job.test_id if isinstance(item, CaseItem) else item.nodeid
        if isinstance(item, GateItem) or not shard.holds(item_id):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _pause_collector(config: pytest.Config) -> None:
    """Turn the cyclic garbage collector off from the first suite collected to the end of
    collection (:func:`_resume_collector`).

    Collecting suites imports their stack (pydantic and the file formats' models, Jinja2,
    the checks) and builds the suites and items: objects that live to the end of the run,
    which the collector would walk again and again for nothing (~10 ms of a cached run).
    Cycles made meanwhile are collected once it is back on. A collector turned off by
    someone else is left to them.
    """
    if not config.stash.get(_GC_PAUSED_KEY, False) and gc.isenabled():
        gc.disable()
        config.stash[_GC_PAUSED_KEY] = True


def _resume_collector(config: pytest.Config) -> None:
    if config.stash.get(_GC_PAUSED_KEY, False):
        config.stash[_GC_PAUSED_KEY] = False
        gc.enable()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if session.items and all(isinstance(item, _PlainItem) for item in session.items):
        # A run of suites only: what exists now (the modules, the suites, the items) lives
        # to the end, so the cyclic collector stops walking it. Each full collection during
        # the run, pytest's collections at exit and the interpreter's own no longer pay
        # for the pydantic and Jinja2 machinery (0.3-0.5 s of a 200-case cached run).
        # A session with other tests keeps the collector as it was.
        gc.freeze()
    _resume_collector(session.config)
    # Under xdist each worker collects everything but runs only what it is sent, so
    # workers start jobs item by item (see pytest_runtest_protocol) instead.
    if _is_worker(session.config):
        return
    jobs = [item.job for item in session.items if isinstance(item, CaseItem)]
    if jobs:
        run_session = session.config.stash[_SESSION_KEY]
        run_session.start(jobs)
        if session.config.stash[_CONFIG_KEY].report is not None:
            run_session.prewarm_report()


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
    finished = call.when == "call" or (call.when == "setup" and call.excinfo is not None)
    if isinstance(item, CaseItem) and item.result is not None and finished:
        # Only an xdist worker's reports travel (as dicts); in one process the result itself
        # rides on the report, so a 20,000-case run does not hold a second copy of each.
        payload = item.result.to_dict() if _is_worker(item.config) else item.result
        setattr(report, _CASE_ATTR, payload)
    if isinstance(item, GateItem) and item.result is not None and call.when == "call":
        gate_payload = item.result.to_dict() if _is_worker(item.config) else item.result
        setattr(report, _GATE_ATTR, gate_payload)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[_STATE_KEY]
    try:
        if _is_worker(config):
            if state.plan is not None:
                config.workeroutput[_PLAN_OUTPUT] = state.plan.to_dict()  # type: ignore[attr-defined]
        elif state.collected or (state.plan is not None and state.plan.planned):
            # A shard writes its results file even when it got no case, so merging finds
            # every shard.
            state.finished = config.stash[_SESSION_KEY].finish(
                [
                    c if isinstance(c, CaseResult) else CaseResult.from_dict(c)
                    for c in state.collected
                ],
                [g if isinstance(g, GateResult) else GateResult.from_dict(g) for g in state.gates],
                config.stash[_CONFIG_KEY],
                root=config.rootpath,
                started=state.started,
                plan=state.plan,
                # An xdist controller collects nothing: its workers did.
                suites=state.suites if _runs_jobs(config) else None,
                labels=state.labels if _runs_jobs(config) else None,
            )
            if os.environ.get("GITHUB_STEP_SUMMARY"):
                state.step_summary_problem = _write_step_summary(config, state.finished)
    finally:
        _resume_collector(config)  # collection stopped before it finished
        config.stash[_SESSION_KEY].close()


def _write_step_summary(config: pytest.Config, finished: FinishedRun) -> str | None:
    """Append the run's verdict to GitHub Actions' job page; why not, if it could not be.

    Called only when ``GITHUB_STEP_SUMMARY`` is set: elsewhere the Markdown writer and its
    imports (~15 ms) are not needed.
    """
    from promptsuite.console import shown
    from promptsuite.markdown import write_step_summary

    root = config.rootpath
    return write_step_summary(
        finished.run,
        gates=finished.gates,
        baselines=finished.baselines,
        prices=config.stash[_CONFIG_KEY].prices,
        results_path=shown(finished.results_path, root),
        report_path=shown(finished.report_path, root) if finished.report_path else None,
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    finished = config.stash[_STATE_KEY].finished
    if _is_worker(config) or finished is None:
        return
    from promptsuite.console import RunSummary, shown, summary_lines

    root = config.rootpath
    summary = RunSummary(
        cases=finished.run.cases,
        gates=finished.gates,
        results_path=shown(finished.results_path, root),
        report_path=shown(finished.report_path, root) if finished.report_path else None,
        report_problem=finished.report_problem,
        baselines_written=[shown(p, root) for p in finished.baselines_written],
        missing_baselines=finished.missing_baselines,
        calibration=finished.calibration,
        judge_calibration=config.stash[_CONFIG_KEY].judge_calibration,
        prices=config.stash[_CONFIG_KEY].prices,
    )
    terminalreporter.section("promptsuite")
    for line in summary_lines(summary):
        terminalreporter.write_line(line.text, yellow=line.warning)
    state = config.stash[_STATE_KEY]
    if state.plan is not None:
        plan, results = state.plan, config.stash[_CONFIG_KEY].results_dir
        pattern = shown(results, root) + "/shard-*.json"
        terminalreporter.write_line(
            f"shard {plan.shard}: {plan.selected} of {plan.planned} cases; the gates"
            + (" and baselines" if config.stash[_CONFIG_KEY].update_baseline else "")
            + f" come from joining every shard: promptsuite merge {pattern} "
            f"-o {shown(results, root)}/latest.json"
        )
    if state.step_summary_problem:
        terminalreporter.write_line(state.step_summary_problem, yellow=True)
