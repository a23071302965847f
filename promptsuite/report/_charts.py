"""Charts for the report, drawn by matplotlib as inline SVG.

Only the object-oriented API is used (``Figure`` + the SVG canvas, never ``pyplot``), so
no GUI backend or global figure state is involved. Text stays ``<text>`` (``svg.fonttype:
none``), which keeps each chart a few kilobytes. Labels are untrusted (suite, model and
variant names): mathtext parsing is off, and matplotlib's SVG writer escapes them.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
#: Distributions of more groups than this get unreadable; the chart says what was left out.
MAX_SERIES = 12
_PASS = "#2e7d32"


@dataclass(frozen=True)
class GroupStats:
    """What the charts need of one suite x model x variant.

    Attributes:
        label: ``suite / model / variant``.
        pass_rate: Fraction of cases that passed.
        interval: Wilson 95% interval of the pass rate.
        scores: Every case's score.
        latencies_s: Every call's latency.
        tokens: Every call's prompt + completion tokens.
    """

    label: str
    pass_rate: float
    interval: tuple[float, float]
    scores: Sequence[float]
    latencies_s: Sequence[float]
    tokens: Sequence[int]


def pass_rate_chart(groups: Sequence[GroupStats]) -> str:
    """Horizontal bars of the pass rate per group, with the 95% interval as error bars."""
    with style():
        fig, ax = figure(height=1.0 + 0.3 * len(groups))
        ordered = list(groups)[::-1]
        rates = [g.pass_rate * 100 for g in ordered]
        low = [max(0.0, (g.pass_rate - g.interval[0]) * 100) for g in ordered]
        high = [max(0.0, (g.interval[1] - g.pass_rate) * 100) for g in ordered]
        ax.barh(range(len(ordered)), rates, xerr=[low, high], color=_PASS, alpha=0.8, capsize=3)
        ax.set_yticks(range(len(ordered)), [g.label for g in ordered])
        ax.set_xlim(0, 100)
        ax.set_xlabel("cases passed (%), with 95% interval")
        return svg(fig, "passrate")


def score_chart(groups: Sequence[GroupStats]) -> str:
    """Histogram of case scores, one outline per group."""
    with style():
        fig, ax = figure()
        bins = [i / 10 for i in range(11)]
        for group in groups[:MAX_SERIES]:
            ax.hist(
                list(group.scores), bins=bins, histtype="step", linewidth=1.5, label=group.label
            )
        ax.set_xlim(0, 1)
        ax.set_xlabel("case score")
        ax.set_ylabel("cases")
        _legend(ax, groups)
        return svg(fig, "scores")


def cost_chart(groups: Sequence[GroupStats]) -> str:
    """Distributions of call latency and of tokens per call, side by side."""
    with style():
        fig, (left, right) = figure(columns=2)
        for group in groups[:MAX_SERIES]:
            left.hist(list(group.latencies_s), bins=20, histtype="step", label=group.label)
            right.hist(list(group.tokens), bins=20, histtype="step", label=group.label)
        left.set_xlabel("latency per call (s)")
        left.set_ylabel("calls")
        right.set_xlabel("tokens per call")
        _legend(right, groups)
        return svg(fig, "latency")


def trajectory_chart(points: Sequence[tuple[int, float]]) -> str:
    """Score of each optimization candidate in evaluation order, and the best so far."""
    with style():
        fig, ax = figure()
        steps = [p[0] for p in points]
        scores = [p[1] for p in points]
        best = [max(scores[: i + 1]) for i in range(len(scores))]
        ax.plot(steps, scores, "o", color="#1565c0", alpha=0.6, label="candidate")
        ax.step(steps, best, where="post", color=_PASS, label="best so far")
        ax.set_xlabel("candidate")
        ax.set_ylabel("validation score")
        ax.legend(loc="lower right", frameon=False)
        return svg(fig, "trajectory")


def import_stack() -> None:
    """Import what drawing a chart needs, ahead of time (it takes most of a report's time)."""
    import matplotlib.figure  # noqa: F401
    from matplotlib.backends import backend_svg  # noqa: F401


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The reports' chart style (SVG text, no mathtext, light grid), for a ``with`` block."""
    import matplotlib as mpl

    with mpl.rc_context(_RC):
        yield


def figure(height: float = 2.8, columns: int = 1) -> tuple[Any, Any]:
    """A figure the reports' width (capped in height) and its ``columns`` axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5 if columns == 1 else 9.0, min(height, 12.0)), layout="tight")
    return fig, fig.subplots(1, columns)


def _legend(ax: Any, groups: Sequence[GroupStats]) -> None:
    if len(groups) > 1:
        ax.legend(fontsize=7, frameon=False)
    if len(groups) > MAX_SERIES:
        ax.set_title(f"first {MAX_SERIES} of {len(groups)} groups", fontsize=8)


def svg(fig: Any, salt: str) -> str:
    """The figure as an inline ``<svg>`` element; ``salt`` keeps its ids apart from others'."""
    import matplotlib as mpl
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buffer = io.StringIO()
    # A per-chart salt keeps the clip-path ids of several inline SVGs apart; no date keeps
    # the output reproducible.
    with mpl.rc_context({"svg.hashsalt": salt}):
        FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None})  # type: ignore[no-untyped-call]
    text = buffer.getvalue()
    return text[text.index("<svg") :]
