"""One set of number formatters, one placeholder for what is not known."""

from __future__ import annotations

import pytest

from promptsuite import _format


@pytest.mark.parametrize("name", ["pct", "num", "signed", "usd", "ms", "count"])
def test_unknown_is_the_one_placeholder(name: str) -> None:
    assert getattr(_format, name)(None) == _format.MISSING
    assert _format.interval(None) == ""


@pytest.mark.parametrize(
    ("function", "value", "text"),
    [
        (_format.pct, 0.424, "42%"),
        (_format.num, 0.5666, "0.57"),
        (_format.signed, -0.125, "-0.125"),
        (_format.signed, 0.05, "+0.050"),
        (_format.usd, 1234.5, "$1,234.50"),
        (_format.usd, 0.0, "$0.00"),
        (_format.usd, 0.0000595, "$0.00006"),
        (_format.usd, 0.0007305, "$0.000731"),
        (_format.ms, 1.25, "1,250 ms"),
        (_format.count, 12500.4, "12,500"),
        (_format.interval, (0.3, 0.7), "[30%, 70%]"),
    ],
)
def test_formats(function: object, value: object, text: str) -> None:
    assert function(value) == text  # type: ignore[operator]
