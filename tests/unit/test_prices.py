"""Prices: the table lookup and the one cost formula."""

from __future__ import annotations

import pytest

from promptsuite.prices import cost_usd, price_for


def test_cost_is_per_million_tokens() -> None:
    assert cost_usd(1_000_000, 500_000, (0.15, 0.60)) == pytest.approx(0.45)


@pytest.mark.parametrize(
    ("model", "backend", "prices", "expected"),
    [
        ("gpt-4o-mini", {"provider": "openai", "model": "gpt-4o-mini"}, None, (0.15, 0.60)),
        ("mini", {"provider": "openai", "model": "gpt-4o-mini"}, None, (0.15, 0.60)),
        ("mini", {"provider": "openai", "model": "gpt-4o-mini"}, {"mini": (1.0, 2.0)}, (1.0, 2.0)),
        ("local", {"provider": "local", "model": "x.gguf"}, None, (0.0, 0.0)),
        ("replay:openai:gpt-9", {"provider": "openai", "model": "gpt-9"}, None, (0.0, 0.0)),
        ("mystery", {"provider": "openai", "model": "mystery"}, None, None),
    ],
)
def test_price_for(
    model: str,
    backend: dict[str, str],
    prices: dict[str, tuple[float, float]] | None,
    expected: tuple[float, float] | None,
) -> None:
    assert price_for(model, backend, prices) == expected
