"""A run session: runs the jobs while pytest reports them, then finishes the run.

The pytest plugin hands every selected job to :meth:`RunSession.start` right after
collection, so all model calls run concurrently (bounded by the runner) on a background event
loop while pytest walks its items in order and waits for each item's own result. At the end
:meth:`RunSession.finish` writes what the run leaves behind: the results file, the HTML
report and, when asked, the baselines, from what the run already holds: the results and
gates as the items produced them, and the suite files' case ids and baselines as collection
loaded them (:class:`SuiteFiles`).

While jobs run, Ctrl-C (SIGINT) and SIGTERM (what CI runners and ``timeout`` send) cancel
every pending job at once, so no new model call starts, and then interrupt pytest with a
``KeyboardInterrupt``, so it still writes the results of every case it reported. The
previous handlers are back after the first signal: a second SIGTERM kills at once.

At a little over 500 lines the module stays whole: the records the plugin hands to
finishing (:class:`SuiteFiles`, :class:`ShardPlan`) and what finishing returns
(:class:`FinishedRun`) are read together with :meth:`RunSession.finish`, and
``promptsuite merge`` reuses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from promptsuite import __version__
from promptsuite._files import copy_atomic
from promptsuite.cache import CacheMode
from promptsuite.config import PluginConfig, RunSettings, Shard
from promptsuite.errors import PromptsuiteError
from promptsuite.gate import Baseline, GateResult, baseline_path, sorted_gates, updated
from promptsuite.models import call_helper
from promptsuite.results import CaseResult, RunResults, usage_metadata

if TYPE_CHECKING:
    from promptsuite.labels import CalibrationReport, LabelsFile
    from promptsuite.runner import Job, Runner
    from promptsuite.suite import Suite


@dataclass(frozen=True)
class FinishedRun:
    """What finishing a run wrote.

    Attributes:
        run: The results, with their metadata.
        gates: Every suite gate's result.
        results_path: ``<results>/latest.json`` (a copy of the timestamped file).
        report_path: The HTML report, when one was written.
        report_problem: Why the asked-for report was not written.
        baselines_written: Baselines written by ``--promptsuite-update-baseline``.
        missing_baselines: Suite files that ran without a baseline (nothing gated them).
        failures: Why the run fails beyond its items: for a merged run, each failing gate
            and each suite without a baseline when one is required.
        baselines: The committed baselines the run was compared with, by suite name (as
            they were before ``--promptsuite-update-baseline`` rewrote them).
        calibration: The run's judges measured against the suites' labels, unless the
            run ignored calibration (``judge-calibration: off``).
    """

    run: RunResults
    gates: tuple[GateResult, ...]
    results_path: Path
    report_path: Path | None = None
    report_problem: str | None = None
    baselines_written: tuple[Path, ...] = ()
    missing_baselines: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    baselines: Mapping[str, Baseline] = field(default_factory=dict)
    calibration: CalibrationReport | None = None


@dataclass
class SuiteFiles:
    """A run's suite files as loaded, by the suite path the run's results name them by.

    Collection fills it as it loads each suite file, so finishing the run neither parses a
    suite again nor re-reads a baseline. ``promptsuite merge``, and an xdist controller
    (its workers did the collecting), start from the files instead: :meth:`read`.

    Attributes:
        case_ids: Every case id of each suite file: a refreshed baseline keeps only these.
        baselines: Each suite file's committed baseline; None when it has none.
    """

    case_ids: dict[str, frozenset[str]] = field(default_factory=dict)
    baselines: dict[str, Baseline | None] = field(default_factory=dict)

    def add(self, suite: Suite, baseline: Baseline | None) -> None:
        """Record a suite file as collection loaded it, with its committed baseline."""
        self.case_ids[suite.path] = frozenset(case.id for case in suite.cases)
        self.baselines[suite.path] = baseline

    @classmethod
    def read(cls, root: Path, suite_paths: Iterable[str], *, case_ids: bool) -> SuiteFiles:
        """Load the committed baselines of suite files, and their case ids when asked.

        Args:
            root: The project root (relative suite paths start here).
            suite_paths: The suite files, as a run's results name them.
            case_ids: Also load each suite file for its case ids (refreshing a baseline
                needs them).
        """
        from promptsuite.suite import load_suite

        files = cls()
        for suite_path in sorted(set(suite_paths)):
            files.baselines[suite_path] = Baseline.load(baseline_path(suite_path, root))
            if case_ids:
                suite = load_suite(root / suite_path, display=suite_path)
                files.case_ids[suite_path] = frozenset(case.id for case in suite.cases)
        return files

    def baselines_by_name(self, cases: Iterable[CaseResult]) -> dict[str, Baseline]:
        """The committed baselines of the cases' suite files, by suite name (as the report
        and the Markdown summary look them up)."""
        found: dict[str, Baseline] = {}
        for suite_path in cases_by_suite_file(cases):
            baseline = self.baselines.get(suite_path)
            if baseline is not None:
                found[baseline.suite or Path(suite_path).stem] = baseline
        return found

    def write_baselines(self, root: Path, cases: Iterable[CaseResult]) -> list[Path]:
        """Write the baseline of each suite file the cases ran, pruning the entries of
        cases that left the file."""
        written = []
        for suite_path, results in cases_by_suite_file(cases).items():
            existing = self.baselines.get(suite_path)
            fresh = updated(existing, results[0].suite, results, self.case_ids[suite_path])
            written.append(fresh.write(baseline_path(suite_path, root)))
        return written

    def without_baseline(self, cases: Iterable[CaseResult]) -> tuple[str, ...]:
        """The suite files the cases ran that have no committed baseline."""
        return tuple(p for p in cases_by_suite_file(cases) if self.baselines.get(p) is None)


def cases_by_suite_file(cases: Iterable[CaseResult]) -> dict[str, list[CaseResult]]:
    """The cases grouped by suite file (as the results name it), in suite path order."""
    by_suite: dict[str, list[CaseResult]] = {}
    for case in cases:
        by_suite.setdefault(case.suite_path, []).append(case)
    return dict(sorted(by_suite.items()))


@dataclass(frozen=True)
class ShardPlan:
    """What a shard was cut from, so that merging can check the shards fit together.

    Attributes:
        shard: Which shard this is.
        planned: Case items of the whole run (every shard).
        selected: Of them, the ones in this shard.
        suites: Per suite file, a digest of everything its planned items run (cases,
            checks, models, prompt templates, generation settings).
        positions: Each of this shard's items' place in the whole run's collection order
            (the order the suite gate pairs cases in).
    """

    shard: Shard
    planned: int
    selected: int
    suites: dict[str, str] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The results file's ``metadata.shard``."""
        return {
            "index": self.shard.index,
            "count": self.shard.count,
            "planned": self.planned,
            "selected": self.selected,
            "suites": self.suites,
            "positions": self.positions,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardPlan:
        """Read :meth:`to_dict`'s form."""
        return cls(
            Shard(int(data["index"]), int(data["count"])),
            int(data["planned"]),
            int(data["selected"]),
            {str(k): str(v) for k, v in data.get("suites", {}).items()},
            {str(k): int(v) for k, v in data.get("positions", {}).items()},
        )


def plan_shard(jobs: Sequence[Job], shard: Shard) -> ShardPlan:
    """The plan of one shard of a run whose case items run ``jobs``, in collection order."""
    chosen = {job.test_id: place for place, job in enumerate(jobs) if shard.holds(job.test_id)}
    return ShardPlan(shard, len(jobs), len(chosen), plan_digests(jobs), chosen)


def plan_digests(jobs: Iterable[Job]) -> dict[str, str]:
    """Per suite file, a digest of what its jobs run: equal digests, equal work."""
    hashes: dict[str, Any] = {}
    for job in jobs:
        work = (
            job.test_id,
            job.case,
            job.model,
            job.suite.prompt.variants[job.variant],
            job.suite.params,
        )
        blob = json.dumps(work, sort_keys=True, default=_plain, ensure_ascii=False)
        hashes.setdefault(job.suite.path, hashlib.sha256()).update(blob.encode("utf-8"))
    return {path: digest.hexdigest()[:16] for path, digest in sorted(hashes.items())}


def _plain(value: Any) -> Any:
    """JSON for the values a job holds: dataclasses, pydantic models, mappings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


class RunSession:
    """Owns the runner and the thread its event loop runs in."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Runner | None = None
        self._futures: dict[str, Future[CaseResult]] = {}
        self._lock = threading.Lock()
        self._previous_handlers: dict[int, Any] = {}
        self._report_warmup: threading.Thread | None = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                ready.set()
                try:
                    loop.run_forever()
                finally:
                    loop.close()

            self._thread = threading.Thread(target=run, name="promptsuite-runner", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
            call_helper.bind(loop)
        return self._loop

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            from promptsuite.runner import Runner

            seed, own = self.settings.cache_seed, self.settings.cache_path
            if seed is not None and seed.is_file() and not own.exists():
                from promptsuite.cache import merge_caches

                merge_caches([seed], own)
            self._runner = Runner(self.settings)
        return self._runner

    def start(self, jobs: Iterable[Job]) -> None:
        """Schedule jobs that are not scheduled yet; returns at once.

        The jobs go to the loop's thread in one call, not one each: every call wakes that
        thread, which then takes the interpreter lock from pytest's (~20 ms of a 1000-case
        cached run).
        """
        loop = self._ensure_loop()
        runner = self.runner
        self._catch_signals()
        fresh: list[tuple[Job, Future[CaseResult]]] = []
        with self._lock:
            for job in jobs:
                if job.test_id not in self._futures:
                    future = self._futures[job.test_id] = Future()
                    fresh.append((job, future))
        if fresh:
            loop.call_soon_threadsafe(_run_jobs, loop, runner, fresh)

    def result(self, job: Job) -> CaseResult:
        """Wait for a job's result, scheduling it first if needed."""
        self.start([job])
        try:
            return self._futures[job.test_id].result()
        except KeyboardInterrupt:
            self.cancel_pending()
            raise

    def cancel_pending(self) -> None:
        """Cancel every job that has not finished, so no new model call starts."""
        with self._lock:
            for future in self._futures.values():
                future.cancel()

    def _catch_signals(self) -> None:
        # Only the main thread may set handlers, and a handler someone else installed wins.
        if self._previous_handlers or threading.current_thread() is not threading.main_thread():
            return
        defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
        for signum, default in defaults.items():
            if signal.getsignal(signum) is default:
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # This runs in the main thread between two bytecodes, maybe while it holds a lock,
        # so it only asks the loop to cancel every job (a lock-free, thread-safe call)
        # before interrupting pytest, which then writes the results it has.
        self._restore_handlers()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_cancel_all_tasks, loop)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def _restore_handlers(self) -> None:
        previous, self._previous_handlers = self._previous_handlers, {}
        if threading.current_thread() is threading.main_thread():
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    @staticmethod
    def start_model_process(settings: RunSettings) -> None:
        """Start the openai calls' helper process: now (once) when every job calls the
        model (cache off or refresh), at the first cache miss with the cache in use, never
        under replay. Only this session's loop uses it; :meth:`close` stops it."""
        if RunSession.starts_model_process_at_once(settings):
            call_helper.start()
        elif settings.cache_mode is CacheMode.USE:
            call_helper.start_on_demand()

    @staticmethod
    def starts_model_process_at_once(settings: RunSettings) -> bool:
        """Whether :meth:`start_model_process` starts the helper at once (every job calls
        the model), not at the first cache miss or never."""
        return settings.cache_mode in (CacheMode.OFF, CacheMode.REFRESH)

    @staticmethod
    def stop_model_process() -> None:
        """Stop the helper, if one runs: at the end of the run, or when the final options
        rule out one started before they were known."""
        call_helper.stop()

    def prewarm_report(self) -> None:
        """Compile the report's template now, on a thread, so finishing the run does not
        wait for it (the run's jobs are on the event loop's thread meanwhile)."""
        if self._report_warmup is None:
            from promptsuite.report import prewarm

            self._report_warmup = threading.Thread(
                target=prewarm, name="promptsuite-report-warmup", daemon=True
            )
            self._report_warmup.start()

    def finish(
        self,
        cases: Sequence[CaseResult],
        gates: Sequence[GateResult],
        config: PluginConfig,
        *,
        root: Path,
        started: float,
        plan: ShardPlan | None = None,
        suites: SuiteFiles | None = None,
        labels: Mapping[str, LabelsFile] | None = None,
    ) -> FinishedRun:
        """Write the run's results file, its HTML report and, when asked, the baselines.

        The report is rendered before the baselines are rewritten, so it compares with the
        old ones; a report that fails costs the run nothing but a warning. A shard writes
        ``<results>/shard-I-of-N.json`` instead of ``latest.json`` and leaves the baselines
        to :func:`merge_shards`, which sees every case.

        Args:
            cases: Every case result of the run.
            gates: Every suite gate's result.
            config: The run's resolved options.
            root: The project root (relative suite paths start here).
            started: When the run started (seconds since the epoch).
            plan: The shard's plan, when the run is one shard of a larger one.
            suites: The suite files as collection loaded them; None reads them from disk
                (an xdist controller collected nothing).
            labels: The suites' labels as collection read them; None reads them from disk.
        """
        updating = config.update_baseline and plan is None
        if suites is None:
            suites = SuiteFiles.read(root, (c.suite_path for c in cases), case_ids=updating)
        metadata = run_metadata(config, cases, root=root, started=started)
        metadata["gates"] = [g.to_dict() for g in sorted_gates(gates)]
        if plan is not None:
            metadata["shard"] = plan.to_dict()
        calibration = None
        if config.judge_calibration != "off":
            calibration = run_calibration(cases, config.judge_kappa, root, suites, labels)
            metadata["calibration"] = calibration.model_dump(mode="json")
        run = RunResults(cases=list(cases), metadata=metadata)
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        # The pid keeps two runs that finish in the same microsecond from sharing a name.
        written = run.write(config.results_dir / "runs" / f"results-{stamp}-{os.getpid()}.json")
        name = f"{plan.shard.name}.json" if plan is not None else "latest.json"
        latest = copy_atomic(written, config.results_dir / name)
        baselines = suites.baselines_by_name(cases)
        report_path, problem = None, None
        if config.report is not None:
            try:
                report_path = self._write_report(run, config, root, written, baselines)
            except (PromptsuiteError, OSError) as exc:
                problem = f"no HTML report written: {exc}"
        recorded: tuple[Path, ...] = ()
        missing: tuple[str, ...] = ()
        if config.update_baseline:
            if updating:
                recorded = tuple(suites.write_baselines(root, cases))
        elif config.baseline_missing == "warn":
            missing = suites.without_baseline(cases)
        return FinishedRun(
            run,
            tuple(gates),
            latest,
            report_path,
            problem,
            recorded,
            missing,
            baselines=baselines,
            calibration=calibration,
        )

    def _write_report(
        self,
        run: RunResults,
        config: PluginConfig,
        root: Path,
        results_file: Path,
        baselines: Mapping[str, Baseline],
    ) -> Path:
        """Render the HTML report of the run, plus a timestamped copy beside the results file."""
        assert config.report is not None
        copy = results_file.with_name(
            results_file.name.replace("results-", "report-").replace(".json", ".html")
        )
        from promptsuite.report import write_report

        # Rendered in this process from the results in memory: since the charts are written
        # as SVG text (no plotting library to import), this takes tens of milliseconds for
        # hundreds of cases, less than a child process takes to start.
        written: Path = write_report(
            run,
            config.report,
            baselines=baselines,
            root=root,
            prices=config.prices,
            copy_to=copy,
        )
        return written

    def close(self) -> None:
        """Cancel what is still pending, close providers, stop the loop and the helper."""
        self._restore_handlers()
        if self._loop is None:
            self.stop_model_process()
            return
        self.cancel_pending()
        if self._runner is not None:
            closing = asyncio.run_coroutine_threadsafe(self._runner.aclose(), self._loop)
            # Closing must not hide the run's own outcome.
            with contextlib.suppress(Exception):
                closing.result(timeout=30)
        # The helper's pipes belong to this loop: they are closed on it, before it stops.
        closing = asyncio.run_coroutine_threadsafe(call_helper.astop(), self._loop)
        with contextlib.suppress(Exception):
            closing.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._loop = None
        self.stop_model_process()


def run_calibration(
    cases: Sequence[CaseResult],
    threshold: float,
    root: Path,
    suites: SuiteFiles,
    labels: Mapping[str, LabelsFile] | None = None,
) -> CalibrationReport:
    """The run's judges measured against the labels of the suites the cases ran (read
    from beside each suite file when not given)."""
    from promptsuite.console import shown
    from promptsuite.labels import calibrate, labels_path, read_labels

    if labels is None:
        labels = {}
        for suite_path in cases_by_suite_file(cases):
            path = labels_path(suite_path, root)
            labels[suite_path] = read_labels(path, shown(path, root))
    return calibrate(cases, labels, suites.case_ids or None, threshold=threshold)


def _run_jobs(
    loop: asyncio.AbstractEventLoop, runner: Runner, jobs: Sequence[tuple[Job, Future[CaseResult]]]
) -> None:
    """On the loop's thread: run each job as a task whose outcome settles its future, as
    :func:`asyncio.run_coroutine_threadsafe` would (a future cancelled from another thread
    cancels its task; one cancelled before this runs starts nothing)."""
    for job, future in jobs:
        if future.cancelled():
            continue
        task = loop.create_task(runner.run_job(job))
        task.add_done_callback(functools.partial(_settle, future))
        future.add_done_callback(functools.partial(_cancel_if_cancelled, loop, task))


def _settle(future: Future[CaseResult], task: asyncio.Task[CaseResult]) -> None:
    if task.cancelled():
        future.cancel()
    if not future.set_running_or_notify_cancel():
        return  # cancelled
    exception = task.exception()
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(task.result())


def _cancel_if_cancelled(
    loop: asyncio.AbstractEventLoop, task: asyncio.Task[CaseResult], future: Future[CaseResult]
) -> None:
    if future.cancelled() and not loop.is_closed():
        loop.call_soon_threadsafe(task.cancel)


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()


def run_metadata(
    config: PluginConfig, cases: Sequence[CaseResult], *, root: Path, started: float
) -> dict[str, Any]:
    """How the run was made: when, with which versions, settings and commit."""
    settings = config.settings
    return {
        "started": _dt.datetime.fromtimestamp(started, _dt.UTC).isoformat(),
        "finished": _dt.datetime.now(_dt.UTC).isoformat(),
        "promptsuite": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(root),
        "settings": {
            "concurrency": settings.concurrency,
            "cache_mode": settings.cache_mode.value,
            "repeat": settings.repeat,
            "models": [m.display for m in config.models],
            "reducer": settings.reducer,
            "grader": settings.grader.display if settings.grader else None,
            "update_baseline": config.update_baseline,
            "baseline_missing": config.baseline_missing,
            "gate_margin": config.gate_margin,
            "gate_inconclusive": config.gate_inconclusive,
            "judge_calibration": config.judge_calibration,
            "judge_kappa": config.judge_kappa,
        },
        **usage_metadata(cases, config.prices),
    }


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
