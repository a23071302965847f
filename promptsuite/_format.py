"""Numbers as the summary and the reports show them: one set of formatters, one placeholder.

Every formatter takes None for "not known" and shows :data:`MISSING` for it.
"""

from __future__ import annotations

from collections.abc import Sequence

#: What a figure that is not known shows as.
MISSING = "—"


def pct(value: float | None) -> str:
    """A share as a whole percentage: ``42%``."""
    return MISSING if value is None else f"{value:.0%}"


def num(value: float | None, digits: int = 2) -> str:
    """A number with fixed decimals: ``0.57``."""
    return MISSING if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
    """A change, always signed: ``+0.050``, ``-0.125``."""
    return MISSING if value is None else f"{value:+.{digits}f}"


def usd(value: float | None) -> str:
    """Money: ``$1,234.50``; amounts under a cent to the millionth: ``$0.000059``."""
    if value is None:
        return MISSING
    return f"${value:,.2f}" if value == 0 or value >= 0.01 else f"${value:.6f}".rstrip("0")


def ms(seconds: float | None) -> str:
    """A duration in whole milliseconds: ``1,250 ms``."""
    return MISSING if seconds is None else f"{seconds * 1000:,.0f} ms"


def count(value: float | None) -> str:
    """A count (tokens, calls) with thousands separators: ``12,500``."""
    return MISSING if value is None else f"{value:,.0f}"


def interval(bounds: Sequence[float] | None) -> str:
    """A 95% interval of shares: ``[30%, 70%]``; empty when there is none."""
    return "" if bounds is None else f"[{bounds[0]:.0%}, {bounds[1]:.0%}]"
