"""What model calls cost: per-million-token prices, and the one formula that applies them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Price = tuple[float, float]
"""US dollars per million (prompt tokens, completion tokens)."""

#: List prices of a few hosted models (USD per 1M prompt / completion tokens, as published
#: by OpenAI in 2025). Prices change: pass your own table to override or extend it. Keys are
#: matched against a case's model label, then ``provider:model``, then the backend's model.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}
#: Providers that cost nothing per token: the embedded model and scripted answers.
FREE_PROVIDERS = frozenset({"local", "scripted"})


def cost_usd(prompt_tokens: float, completion_tokens: float, price: Price) -> float:
    """What ``prompt_tokens`` in and ``completion_tokens`` out cost at ``price``."""
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


def price_for(
    model: str, backend: Mapping[str, Any], prices: Mapping[str, Price] | None = None
) -> Price | None:
    """The per-token price of a model, or None when it is unknown.

    Args:
        model: The case's model label (``mini``, ``local``, ``replay:openai:gpt-4o``).
        backend: The case's backend identity (``provider``, ``model``...).
        prices: Prices that override or extend :data:`DEFAULT_PRICES`.

    Returns:
        (prompt, completion) USD per million tokens; (0, 0) for the embedded and scripted
        models and for replayed answers.
    """
    table = {**DEFAULT_PRICES, **(prices or {})}
    provider, name = backend.get("provider"), backend.get("model")
    for key in (model, f"{provider}:{name}", str(name)):
        if key in table:
            return table[key]
    if provider in FREE_PROVIDERS or model.startswith("replay:"):
        return (0.0, 0.0)
    return None
