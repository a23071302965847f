"""The run report's charts, as inline SVG written by :mod:`promptsuite.report._svg`.

Three charts: the pass rate per group with its 95% interval, the score distribution, and
the latency and token distributions. Each says in its ``<desc>`` what it plots, with the
figures, for readers who cannot see it. The trajectory's axes (:func:`trajectory_panel`)
are shared with the optimization report, which draws its score trajectory on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptsuite.report._svg import (
    PALETTE,
    Canvas,
    Panel,
    even_edges,
    histogram,
    label_width,
    nice_ticks,
    tick_text,
)

#: Distributions of more groups than this get unreadable; the chart says what was left out.
MAX_SERIES = 12
PASS = "#2e7d32"
BLUE = "#1565c0"
_WIDTH = 720.0
_LEGEND_WIDTH = 150.0


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
    labels = [g.label for g in groups]
    left = min(360.0, 12 + max((label_width(t) for t in labels), default=0.0))
    row = 22.0
    height = 14 + row * len(groups) + 36
    canvas = Canvas(
        _WIDTH,
        height,
        "Pass rate per prompt variant",
        "Cases passed, with 95% interval: "
        + "; ".join(
            f"{g.label}: {g.pass_rate:.0%} ({g.interval[0]:.0%}-{g.interval[1]:.0%})"
            for g in groups
        ),
    )
    plot = canvas.panel(left, 14, _WIDTH - left - 20, row * len(groups), (0, 100), (len(groups), 0))
    ticks = [(v, tick_text(v)) for v in range(0, 101, 20)]
    plot.frame(
        xticks=ticks,
        yticks=[(i + 0.5, t[:60]) for i, t in enumerate(labels)],
        xlabel="cases passed (%), with 95% interval",
    )
    for i, group in enumerate(groups):
        plot.rect(0, i + 0.15, group.pass_rate * 100, i + 0.85, f'fill="{PASS}" fill-opacity="0.8"')
        low, high = (group.interval[0] * 100, group.interval[1] * 100)
        middle = plot.y(i + 0.5)
        plot.parts.append(
            f'<path d="M{plot.x(low):.2f} {middle:.2f}H{plot.x(high):.2f}'
            f'M{plot.x(low):.2f} {middle - 3:.2f}v6M{plot.x(high):.2f} {middle - 3:.2f}v6" '
            'stroke="#000" fill="none"/>'
        )
    return canvas.render("passrate")


def score_chart(groups: Sequence[GroupStats]) -> str:
    """Histogram of case scores, one outline per group."""
    edges = [i / 10 for i in range(11)]
    shown = list(groups[:MAX_SERIES])
    counts = [histogram(g.scores, edges) for g in shown]
    canvas = Canvas(
        _WIDTH,
        260,
        "Score distribution",
        "Cases per score bin of width 0.1, from 0 to 1: "
        + "; ".join(
            f"{g.label}: {' '.join(map(str, c))}" for g, c in zip(shown, counts, strict=True)
        ),
    )
    _histograms(canvas, 50, _WIDTH - 60 - _LEGEND_WIDTH, edges, counts, ("case score", "cases"))
    _legend(canvas, groups)
    return canvas.render("scores")


def cost_chart(groups: Sequence[GroupStats]) -> str:
    """Distributions of call latency and of tokens per call, side by side."""
    shown = list(groups[:MAX_SERIES])
    latency_edges = even_edges([v for g in shown for v in g.latencies_s], 20)
    token_edges = even_edges([float(v) for g in shown for v in g.tokens], 20)
    latency_counts = [histogram(g.latencies_s, latency_edges) for g in shown]
    token_counts = [histogram([float(t) for t in g.tokens], token_edges) for g in shown]
    canvas = Canvas(
        _WIDTH,
        260,
        "Latency and tokens per call",
        f"Calls per latency bin from {latency_edges[0]:.3g} s to {latency_edges[-1]:.3g} s, and "
        f"per token-count bin from {token_edges[0]:.3g} to {token_edges[-1]:.3g}, in 20 bins: "
        + "; ".join(
            f"{g.label}: latency {' '.join(map(str, lc))}; tokens {' '.join(map(str, tc))}"
            for g, lc, tc in zip(shown, latency_counts, token_counts, strict=True)
        ),
    )
    width = (_WIDTH - _LEGEND_WIDTH - 130) / 2
    _histograms(canvas, 50, width, latency_edges, latency_counts, ("latency per call (s)", "calls"))
    _histograms(canvas, 100 + width, width, token_edges, token_counts, ("tokens per call", ""))
    _legend(canvas, groups)
    return canvas.render("latency")


def trajectory_panel(
    canvas: Canvas,
    steps: Sequence[float],
    scores: Sequence[float],
    best: Sequence[float],
    ylim: tuple[float, float],
) -> Panel:
    """The axes of a trajectory: a dot per candidate and the best-so-far step line."""
    low = min(steps, default=0.0)
    high = max(steps, default=1.0)
    pad = max((high - low) * 0.05, 0.5)
    low_y = min([ylim[0], *scores])
    high_y = max([ylim[1], *scores])
    plot = canvas.panel(
        50, 14, canvas.width - 70, canvas.height - 60, (low - pad, high + pad), (low_y, high_y)
    )
    plot.frame(
        xticks=[
            (v, tick_text(v)) for v in nice_ticks(low, high, 8) if low - pad <= v <= high + pad
        ],
        yticks=[(v, tick_text(v)) for v in nice_ticks(low_y, high_y)],
        xlabel="candidate",
        ylabel="validation score",
    )
    plot.dots(list(zip(steps, scores, strict=True)), BLUE)
    stepped: list[tuple[float, float]] = []
    for i, (x, y) in enumerate(zip(steps, best, strict=True)):
        if i:
            stepped.append((x, best[i - 1]))
        stepped.append((x, y))
    plot.polyline(stepped, f'stroke="{PASS}" stroke-width="1.5"')
    return plot


def _histograms(
    canvas: Canvas,
    left: float,
    width: float,
    edges: Sequence[float],
    counts: Sequence[Sequence[int]],
    labels: tuple[str, str],
) -> None:
    """One histogram panel: an outline per series, in the palette's order."""
    top = max((max(c, default=0) for c in counts), default=0)
    yticks = nice_ticks(0, max(top, 1) * 1.05)
    plot = canvas.panel(
        left,
        14,
        width,
        canvas.height - 60,
        (edges[0], edges[-1]),
        (0, max(yticks[-1], top * 1.05, 1.0)),
    )
    plot.frame(
        xticks=[(v, tick_text(v)) for v in nice_ticks(edges[0], edges[-1])],
        yticks=[(v, tick_text(v)) for v in yticks],
        xlabel=labels[0],
        ylabel=labels[1],
    )
    for i, group_counts in enumerate(counts):
        colour = PALETTE[i % len(PALETTE)]
        plot.step_outline(edges, group_counts, f'stroke="{colour}" stroke-width="1.5"')


def _legend(canvas: Canvas, groups: Sequence[GroupStats]) -> None:
    shown = groups[:MAX_SERIES]
    if len(groups) > 1:
        entries = [(PALETTE[i % len(PALETTE)], g.label[:32]) for i, g in enumerate(shown)]
        canvas.legend(canvas.width - _LEGEND_WIDTH, 16, entries)
    if len(groups) > MAX_SERIES:
        canvas.panels[-1].title(f"first {MAX_SERIES} of {len(groups)} groups")
