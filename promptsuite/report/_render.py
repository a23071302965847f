"""Render a results file as one self-contained HTML page.

The page has no external references: CSS, JavaScript and the charts (SVG) are inline. The
overview, gate and first matrix page are rendered here, so they work with JavaScript
disabled; the matrix's rows and cells also go into a JSON data island that a small script
filters, searches and paginates. Everything from the run is untrusted text: Jinja2
autoescapes it in the HTML, the data island escapes ``<``, ``>``, ``&`` and U+2028/2029 so
no string can close its ``<script>`` element, the script only ever writes ``textContent``,
and a Content-Security-Policy allows no network access and runs only the page's own script
(by its hash).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptsuite._files import write_text_atomic
from promptsuite.errors import ConfigError, PromptsuiteError
from promptsuite.gate import BaselineSource, load_baselines
from promptsuite.prices import Price
from promptsuite.report._templates import asset, environment
from promptsuite.report._view import View, build_view
from promptsuite.results import RunResults, load

#: Matrix rows per page, in the server-rendered first page and in the script's pages.
PAGE_SIZE = 50
_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def render_report(
    results: RunResults | str | Path,
    *,
    baselines: BaselineSource | None = None,
    prices: Mapping[str, Price] | None = None,
    root: str | Path | None = None,
    title: str | None = None,
) -> str:
    """Render a run's results as a self-contained HTML page.

    Args:
        results: The run, or the path of its results file (``reports/latest.json``).
        baselines: Baseline files or folders of them, or baselines by suite name; None
            looks for each suite's committed baseline beside its suite file.
        prices: USD per million (prompt, completion) tokens by model, overriding
            :data:`promptsuite.prices.DEFAULT_PRICES`.
        root: The folder the run's relative suite paths start from (default: the current
            directory).
        title: The page title (default: ``promptsuite report`` and the run's start time).

    Returns:
        The HTML text.

    Raises:
        ConfigError: If the results file or a baseline cannot be read.
    """
    run = results if isinstance(results, RunResults) else read_results(results)
    found = load_baselines(run, baselines, Path(root) if root is not None else Path.cwd())
    started = str(run.metadata.get("started", ""))[:19].replace("T", " ")
    view = build_view(run, found, prices, title or f"promptsuite report {started}".strip())
    return _render(view)


def write_report(
    results: RunResults | str | Path,
    out: str | Path,
    *,
    baselines: BaselineSource | None = None,
    prices: Mapping[str, Price] | None = None,
    root: str | Path | None = None,
    title: str | None = None,
    copy_to: str | Path | None = None,
) -> Path:
    """Render a run's results and write the page atomically.

    Takes the same arguments as :func:`render_report`, plus:

    Args:
        results: The run, or the path of its results file.
        out: Where to write the page (``reports/latest.html``).
        baselines: As for :func:`render_report`.
        prices: As for :func:`render_report`.
        root: As for :func:`render_report`.
        title: As for :func:`render_report`.
        copy_to: Also write the same page here (a timestamped copy such as
            ``reports/runs/report-20260101T000000Z.html``).

    Returns:
        ``out``.
    """
    html = render_report(results, baselines=baselines, prices=prices, root=root, title=title)
    target = Path(out)
    write_text_atomic(target, html)
    if copy_to is not None:
        write_text_atomic(Path(copy_to), html)
    return target


def read_results(path: str | Path) -> RunResults:
    """Load a results file, turning any problem with it into a one-line ConfigError."""
    try:
        return load(path)
    except PromptsuiteError:
        raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read results file ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a promptsuite results file ({type(exc).__name__}: {exc})"
        ) from None


def script_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no string can end the element or
    start an HTML comment, and line separators cannot break older JavaScript parsers."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def _render(view: View) -> str:
    from markupsafe import Markup

    from promptsuite.report import _charts

    env = environment()
    script = asset("report.js")
    stats = [
        _charts.GroupStats(
            label=g.label,
            pass_rate=g.pass_rate,
            interval=g.interval,
            scores=g.scores,
            latencies_s=g.latencies_s,
            tokens=g.call_tokens,
        )
        for g in view.groups
    ]
    charts = []
    if stats:
        charts = [
            ("Pass rate per prompt variant", _charts.pass_rate_chart(stats)),
            ("Score distribution", _charts.score_chart(stats)),
            ("Latency and tokens per call", _charts.cost_chart(stats)),
        ]
    strings = _Strings()
    data = {
        "columns": view.columns,
        "rows": [_compact_row(row, view.columns, strings) for row in view.rows],
        "strings": strings.values,
        "page_size": PAGE_SIZE,
    }
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    html: str = env.get_template("report.html.j2").render(
        view=view,
        first_page=view.rows[:PAGE_SIZE],
        page_size=PAGE_SIZE,
        charts=[(name, Markup(svg)) for name, svg in charts],
        css=Markup(asset("report.css")),
        script=Markup(script),
        script_hash=f"sha256-{digest}",
        data=Markup(script_json(data)),
    )
    return html


class _Strings:
    """Interns the long strings of the data island: system prompts and few-shot examples
    repeat in every case, and sending them once keeps big reports small."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int | None:
        if text is None:
            return None
        index = self._index.get(text)
        if index is None:
            index = self._index[text] = len(self.values)
            self.values.append(text)
        return index


def _compact_row(row: Mapping[str, Any], columns: list[str], intern: _Strings) -> dict[str, Any]:
    cells = {}
    for name, cell in row["cells"].items():
        base = cell["base"]
        cells[str(columns.index(name))] = {
            "k": cell["kind"],
            "st": cell["state"],
            "fl": cell["flaky"],
            "b": cell["baseline"],
            "sc": cell["score"],
            "n": cell["n"],
            "pr": cell["pass_rate"],
            "iv": cell["interval"],
            "o": [intern(o) for o in cell["outputs"]],
            "ch": [[[*c[:4], intern(c[4])] for c in checks] for checks in cell["checks"]],
            "f": cell["failed"],
            "m": [[role, intern(content)] for role, content in cell["messages"]],
            "tk": cell["tokens"],
            "mc": cell["calls"],
            "l": cell["latency_s"],
            "c": cell["cost"],
            "e": intern(cell["error"]),
            "u": intern(cell["uncalibrated"]),
            "id": cell["test_id"],
            "bs": None
            if base is None
            else {
                "p": base["passed"],
                "sc": base["score"],
                "o": [intern(o) if isinstance(o, str) else None for o in base["outputs"]],
                "same": base["same"],
                "d": base["diff"],
                "pc": base["prompt_changed"],
            },
        }
    return {"s": row["suite"], "c": row["case"], "t": row["tags"], "x": cells}


def prewarm() -> None:
    """Compile the page template ahead of time (the run does this while its cases run)."""
    environment().get_template("report.html.j2")
