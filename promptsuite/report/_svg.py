"""A small SVG plotting kit for the reports' charts: axes, ticks, bars, lines, legends.

The reports' charts are simple (bars, histograms, step lines, a heatmap), so they are written
as SVG text directly: no plotting library to import (matplotlib took ~0.8 s to import and
most of a report's time). Every label is untrusted text (suite, model, variant and case
names) and goes through :func:`esc`; numbers are formatted by us. Each chart is an
``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that says what it shows in words,
so screen readers get the figures, not just "image".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

#: The series colours (matplotlib's ``tab10``, which the charts used before).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
FONT = "font-family:sans-serif"
_CHAR_WIDTH = 5.6  # px per character of 9 px sans-serif text, for laying out labels


def esc(text: object) -> str:
    """Text safe in SVG content and attribute values."""
    return escape(str(text), quote=True)


def fmt(value: float) -> str:
    """A coordinate: two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def label_width(text: str, size: float = 9.0) -> float:
    """The approximate width of ``text`` at ``size`` px."""
    return len(text) * _CHAR_WIDTH * size / 9.0


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low``..``high`` (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def tick_text(value: float) -> str:
    """A tick label: integers without a decimal point, else up to 3 significant digits."""
    if abs(value - round(value)) < 1e-9:
        return str(round(value))
    return f"{value:.3g}"


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts of ``values`` in the bins between ``edges`` (the last bin includes its right
    edge, as numpy's and matplotlib's do)."""
    counts = [0] * (len(edges) - 1)
    low, high = edges[0], edges[-1]
    for value in values:
        if value < low or value > high:
            continue
        index = len(edges) - 2
        for i in range(len(edges) - 1):
            if value < edges[i + 1]:
                index = i
                break
        counts[index] += 1
    return counts


def even_edges(values: Sequence[float], bins: int) -> list[float]:
    """``bins + 1`` evenly spaced edges over the values' range (a unit range around a single
    value)."""
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return [low + (high - low) * i / bins for i in range(bins + 1)]


@dataclass
class Panel:
    """One set of axes: a rectangle of the canvas and the data ranges it maps."""

    left: float
    top: float
    width: float
    height: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    parts: list[str] = field(default_factory=list)

    def x(self, value: float) -> float:
        low, high = self.xlim
        return self.left + (value - low) / ((high - low) or 1.0) * self.width

    def y(self, value: float) -> float:
        low, high = self.ylim
        return self.top + self.height - (value - low) / ((high - low) or 1.0) * self.height

    def frame(
        self,
        *,
        xticks: Sequence[tuple[float, str]],
        yticks: Sequence[tuple[float, str]],
        xlabel: str = "",
        ylabel: str = "",
        grid: bool = True,
    ) -> None:
        """Grid lines, the left and bottom axes, tick labels and axis labels."""
        bottom, right = self.top + self.height, self.left + self.width
        for value, text in xticks:
            px = self.x(value)
            where = f'x="{fmt(px)}" y="{fmt(bottom + 12)}" text-anchor="middle"'
            self._tick(text, where, (px, self.top, px, bottom) if grid else None)
        for value, text in yticks:
            py = self.y(value)
            where = f'x="{fmt(self.left - 4)}" y="{fmt(py)}" text-anchor="end"'
            where += ' dominant-baseline="middle"'
            self._tick(text, where, (self.left, py, right, py) if grid else None)
        self.parts.append(
            f'<path d="M{fmt(self.left)} {fmt(self.top)}V{fmt(bottom)}H{fmt(right)}" '
            'fill="none" stroke="#333"/>'
        )
        if xlabel:
            self.parts.append(
                f'<text x="{fmt(self.left + self.width / 2)}" y="{fmt(bottom + 26)}" '
                f'text-anchor="middle">{esc(xlabel)}</text>'
            )
        if ylabel:
            cy = fmt(self.top + self.height / 2)
            self.parts.append(
                f'<text x="{fmt(self.left - 34)}" y="{cy}" text-anchor="middle" '
                f'transform="rotate(-90 {fmt(self.left - 34)} {cy})">{esc(ylabel)}</text>'
            )

    def _tick(
        self, text: str, where: str, grid_line: tuple[float, float, float, float] | None
    ) -> None:
        """A tick's label at ``where`` (its attributes), after its faint grid line if any."""
        if grid_line is not None:
            x1, y1, x2, y2 = map(fmt, grid_line)
            self.parts.append(
                f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" '
                'stroke="#000" stroke-opacity="0.12"/>'
            )
        self.parts.append(f"<text {where}>{esc(text)}</text>")

    def rect(self, x0: float, y0: float, x1: float, y1: float, style: str) -> None:
        """A rectangle between two data corners."""
        left, right = sorted((self.x(x0), self.x(x1)))
        top, bottom = sorted((self.y(y0), self.y(y1)))
        self.parts.append(
            f'<rect x="{fmt(left)}" y="{fmt(top)}" width="{fmt(right - left)}" '
            f'height="{fmt(bottom - top)}" {style}/>'
        )

    def polyline(self, points: Sequence[tuple[float, float]], style: str) -> None:
        """A line through data points."""
        if not points:
            return
        coords = " ".join(f"{fmt(self.x(px))},{fmt(self.y(py))}" for px, py in points)
        self.parts.append(f'<polyline points="{coords}" fill="none" {style}/>')

    def dots(self, points: Sequence[tuple[float, float]], colour: str) -> None:
        """A marker per data point."""
        for px, py in points:
            self.parts.append(
                f'<circle cx="{fmt(self.x(px))}" cy="{fmt(self.y(py))}" r="3" '
                f'fill="{colour}" fill-opacity="0.6"/>'
            )

    def step_outline(self, edges: Sequence[float], counts: Sequence[int], style: str) -> None:
        """A histogram's outline (matplotlib's ``histtype="step"``)."""
        points = [(edges[0], 0.0)]
        for i, count in enumerate(counts):
            points += [(edges[i], float(count)), (edges[i + 1], float(count))]
        points.append((edges[-1], 0.0))
        self.polyline(points, style)

    def title(self, text: str) -> None:
        self.parts.append(
            f'<text x="{fmt(self.left + self.width / 2)}" y="{fmt(self.top - 6)}" '
            f'text-anchor="middle" font-size="8">{esc(text)}</text>'
        )


@dataclass
class Canvas:
    """A chart: panels and free parts, written out as one ``<svg>`` element."""

    width: float
    height: float
    title: str
    description: str
    parts: list[str] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)

    def panel(
        self,
        left: float,
        top: float,
        width: float,
        height: float,
        xlim: tuple[float, float],
        ylim: tuple[float, float],
    ) -> Panel:
        made = Panel(left, top, width, height, xlim, ylim)
        self.panels.append(made)
        return made

    def legend(self, x: float, y: float, entries: Sequence[tuple[str, str]]) -> None:
        """Colour swatches and labels, one per line, from (x, y) down."""
        for i, (colour, text) in enumerate(entries):
            top = y + i * 11
            self.parts.append(
                f'<rect x="{fmt(x)}" y="{fmt(top)}" width="10" height="3" fill="{colour}"/>'
            )
            self.parts.append(
                f'<text x="{fmt(x + 14)}" y="{fmt(top + 2)}" font-size="7" '
                f'dominant-baseline="middle">{esc(text)}</text>'
            )

    def render(self, salt: str) -> str:
        """The ``<svg>`` element; ``salt`` makes its ids unique on a page of several charts."""
        body = "".join(part for p in self.panels for part in p.parts) + "".join(self.parts)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-labelledby="{salt}-title {salt}-desc" width="{fmt(self.width)}" '
            f'height="{fmt(self.height)}" viewBox="0 0 {fmt(self.width)} {fmt(self.height)}" '
            f'font-size="9" style="{FONT}">'
            f'<title id="{salt}-title">{esc(self.title)}</title>'
            f'<desc id="{salt}-desc">{esc(self.description)}</desc>'
            f'<rect width="100%" height="100%" fill="#fff"/>{body}</svg>'
        )
