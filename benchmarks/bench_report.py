"""How big and how fast is the HTML report of a large run?

Synthesizes a run (5,000 case results by default: cases x 2 models x 2 prompt variants, with
system prompts, outputs, three checks per repeat and gate verdicts), writes its results
file, renders the report from that file and prints the file sizes and the render time. With
chromium installed (``apt-get install -y chromium``) and playwright importable, it also
opens the report headless and prints the time until the page's script has rendered the
first matrix page, and the time to apply a filter and a search.

    python benchmarks/bench_report.py --cases 5000 --runs 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from promptsuite.report import write_report
from tests.report_runs import synthetic_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000, help="case results to synthesize")
    parser.add_argument("--repeats", type=int, default=1, help="repeats per case")
    parser.add_argument("--runs", type=int, default=3, help="timed renders and page loads")
    parser.add_argument("--keep", help="also copy the report here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        results_path = synthetic_run(args.cases, repeats=args.repeats).write(
            Path(tmp) / "results.json"
        )
        out = Path(tmp) / "report.html"
        render_times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            write_report(results_path, out, baselines=[])
            render_times.append(time.perf_counter() - started)
        print(f"case results:       {args.cases} ({args.repeats} repeat(s) each)")
        print(f"results file:       {results_path.stat().st_size / 1e6:.2f} MB")
        print(f"report file:        {out.stat().st_size / 1e6:.2f} MB")
        print(f"render (median):    {statistics.median(render_times):.2f} s over {args.runs} runs")
        print(f"render (all):       {', '.join(f'{t:.2f}' for t in render_times)} s")
        if args.keep:
            shutil.copyfile(out, args.keep)
        _browser(out, args.runs)


def _browser(report: Path, runs: int) -> None:
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        print("browser:            skipped (needs chromium and playwright)")
        return
    loads, filters = [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        for _ in range(runs):
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(report.as_uri())
            page.wait_for_selector("html[data-ready='1']", timeout=60_000)
            loads.append(time.perf_counter() - started)
            before = int(page.get_attribute("html", "data-renders") or 0)
            started = time.perf_counter()
            page.select_option("#f-status", "failed")
            page.fill("#f-search", "refund")
            # The page's CSP forbids string evaluation, so wait on a selector, not a function.
            page.wait_for_selector(f"html[data-renders='{before + 2}']", state="attached")
            filters.append(time.perf_counter() - started)
            page.close()
        browser.close()
    print(f"browser load:       {statistics.median(loads):.2f} s median until the matrix rendered")
    print(f"filter + search:    {statistics.median(filters):.2f} s median (incl. 150 ms debounce)")


if __name__ == "__main__":
    main()
