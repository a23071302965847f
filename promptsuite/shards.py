"""Merging a sharded run: the shards' results files joined into one run.

A run started with ``--promptsuite-shard I/N`` runs the cases whose id hashes to shard ``I``
and records in its results file the :class:`~promptsuite.session.ShardPlan` it was cut from.
``promptsuite merge`` reads those files, checks that they are every shard of one run (same
plan, same settings, each complete), and writes one results file, gates and report as if the
run had not been split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptsuite.errors import ConfigError, PromptsuiteError
from promptsuite.gate import (
    DEFAULT_GATE_MARGIN,
    GateInconclusive,
    GateResult,
    gate,
    sorted_gates,
)
from promptsuite.prices import Price
from promptsuite.results import CaseResult, RunResults, group_by_variant, usage_metadata
from promptsuite.session import FinishedRun, ShardPlan, SuiteFiles, cases_by_suite_file

#: Settings the shards of one run may differ in: they change how fast it runs, not what.
_FREE_SETTINGS = frozenset({"concurrency", "cache_mode"})


@dataclass(frozen=True)
class _ShardFile:
    path: Path
    run: RunResults
    plan: ShardPlan

    @property
    def shown(self) -> str:
        return f"{self.path} (shard {self.plan.shard})"


def merge_shards(
    paths: Sequence[str | Path],
    *,
    out: Path,
    root: Path,
    report: Path | None = None,
    prices: Mapping[str, Price] | None = None,
) -> FinishedRun:
    """Join the results files of a sharded run into one, as if the run had not been split.

    Checks that the files fit (every shard of one split, each once, cut from the same plan,
    run with the same settings, each complete), computes each suite gate over all of its
    cases against the committed baselines beside the suite files, writes ``out`` and the
    HTML report, and records the baselines when the shards ran with update-baseline.

    Args:
        paths: The shards' results files (``reports/shard-*.json``).
        out: The merged results file to write.
        root: The project root the shards ran in (suite paths start here).
        report: The HTML report to write, if any.
        prices: Per-model prices for the report.

    Raises:
        ConfigError: A file is not a shard's results, or the shards do not fit together.
    """
    shards = sorted((_read_shard(Path(p)) for p in paths), key=lambda s: s.plan.shard.index)
    _check_shards(shards)
    cases = [case for shard in shards for case in shard.run.cases]
    positions = {k: v for shard in shards for k, v in shard.plan.positions.items()}
    settings = dict(shards[0].run.metadata.get("settings", {}))
    updating = bool(settings.get("update_baseline"))
    suites = SuiteFiles.read(root, (c.suite_path for c in cases), case_ids=updating)
    gates, failures = ([], []) if updating else _merged_gates(cases, positions, suites, settings)
    run = RunResults(cases=cases, metadata=_merged_metadata(shards, cases, gates, prices))
    run.write(out)
    baselines = suites.baselines_by_name(cases)
    report_path, problem = None, None
    if report is not None:
        from promptsuite.report import write_report

        try:
            report_path = write_report(run, report, baselines=baselines, root=root, prices=prices)
        except (PromptsuiteError, OSError) as exc:
            problem = f"no HTML report written: {exc}"
    recorded = tuple(suites.write_baselines(root, cases)) if updating else ()
    missing: tuple[str, ...] = ()
    if not updating and settings.get("baseline_missing", "warn") == "warn":
        missing = suites.without_baseline(cases)
    return FinishedRun(
        run,
        tuple(gates),
        out,
        report_path,
        problem,
        baselines_written=recorded,
        missing_baselines=missing,
        failures=tuple(failures),
        baselines=baselines,
    )


def _read_shard(path: Path) -> _ShardFile:
    from promptsuite.results import load

    try:
        run = load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: cannot read a results file ({exc})") from None
    data = run.metadata.get("shard")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: not a shard's results file (a run with --promptsuite-shard I/N writes "
            "those); only the shards of one run can be merged"
        )
    return _ShardFile(path, run, ShardPlan.from_dict(data))


def _check_shards(shards: Sequence[_ShardFile]) -> None:
    """Raise a ConfigError saying why the shards cannot be one run, if they cannot."""
    if not shards:
        raise ConfigError("merge: no results files given")
    first = shards[0]
    for shard in shards:
        if shard.plan.shard.count != first.plan.shard.count:
            raise ConfigError(
                f"{shard.shown} and {first.shown} are shards of different splits; merge the "
                "shards of one run"
            )
    seen: dict[int, _ShardFile] = {}
    for shard in shards:
        other = seen.setdefault(shard.plan.shard.index, shard)
        if other is not shard:
            raise ConfigError(f"{other.path} and {shard.path} are both shard {shard.plan.shard}")
    count = first.plan.shard.count
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise ConfigError(f"merge: shard {', '.join(missing)} missing; give every shard's file")
    for shard in shards[1:]:
        _check_same_plan(first, shard)
        _check_same_settings(first, shard)
    for shard in shards:
        if len(shard.run.cases) != shard.plan.selected:
            raise ConfigError(
                f"{shard.shown} holds {len(shard.run.cases)} of its {shard.plan.selected} "
                "cases: the shard stopped early; run it again"
            )
    ids = [case.test_id for shard in shards for case in shard.run.cases]
    if len(set(ids)) != len(ids) or len(ids) != first.plan.planned:
        raise ConfigError(
            f"merge: the shards hold {len(set(ids))} distinct of {len(ids)} cases, but the run "
            f"planned {first.plan.planned}; they were not cut from one run"
        )


def _check_same_plan(first: _ShardFile, shard: _ShardFile) -> None:
    mine, theirs = shard.plan.suites, first.plan.suites
    for path in sorted(set(mine) | set(theirs)):
        if path not in mine or path not in theirs:
            ran, other = (shard, first) if path in mine else (first, shard)
            raise ConfigError(
                f"{ran.shown} ran {path}, which {other.shown} did not; merge shards of one run "
                "(same suites, same selection)"
            )
        if mine[path] != theirs[path]:
            raise ConfigError(
                f"{shard.shown} ran {path} differently from {first.shown}: its cases, checks, "
                "models or prompt differ; merge shards of one run (same commit, same options)"
            )


def _check_same_settings(first: _ShardFile, shard: _ShardFile) -> None:
    mine = shard.run.metadata.get("settings", {})
    theirs = first.run.metadata.get("settings", {})
    for key in sorted((set(mine) | set(theirs)) - _FREE_SETTINGS):
        if mine.get(key) != theirs.get(key):
            raise ConfigError(
                f"{shard.shown} ran with {key} {mine.get(key)!r}, {first.shown} with "
                f"{theirs.get(key)!r}; merge shards run with the same settings"
            )


def _merged_gates(
    cases: Sequence[CaseResult],
    positions: Mapping[str, int],
    suites: SuiteFiles,
    settings: Mapping[str, Any],
) -> tuple[list[GateResult], list[str]]:
    """Each suite gate over all of its cases, in collection order; and why the run fails."""
    margin = float(settings.get("gate_margin") or DEFAULT_GATE_MARGIN)
    inconclusive: GateInconclusive = (
        "fail" if settings.get("gate_inconclusive") == "fail" else "pass"
    )
    gates, failures = [], []
    for suite_path, members in cases_by_suite_file(cases).items():
        baseline = suites.baselines[suite_path]
        if baseline is None:
            if settings.get("baseline_missing") == "fail":
                failures.append(
                    f"{suite_path} has no baseline; record one with --promptsuite-update-baseline"
                )
            continue
        for _, group in group_by_variant(members):
            ordered = sorted(group, key=lambda c: positions.get(c.test_id, 0))
            result = gate(baseline, ordered, margin=margin)
            gates.append(result)
            failure = result.failure(inconclusive)
            if failure is not None:
                failures.append(f"{suite_path} [{result.model}, {result.variant}]: {failure}")
    return sorted_gates(gates), failures


def _merged_metadata(
    shards: Sequence[_ShardFile],
    cases: Sequence[CaseResult],
    gates: Sequence[GateResult],
    prices: Mapping[str, Price] | None,
) -> dict[str, Any]:
    first = shards[0].run.metadata
    metadata = {key: value for key, value in first.items() if key != "shard"}
    metadata.update(
        started=min(str(s.run.metadata.get("started", "")) for s in shards),
        finished=max(str(s.run.metadata.get("finished", "")) for s in shards),
        **usage_metadata(cases, prices),
        gates=[g.to_dict() for g in gates],
        merged_from=[
            {
                "file": str(s.path),
                "shard": str(s.plan.shard),
                **{
                    key: s.run.metadata.get(key)
                    for key in ("started", "finished", "platform", "git_commit")
                },
                "model_calls": s.run.metadata.get("model_calls"),
                "cache_hits": s.run.metadata.get("cache_hits"),
            }
            for s in shards
        ],
    )
    return metadata
