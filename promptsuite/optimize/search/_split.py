"""Seeded, tag-stratified train / validation / test split of a suite's cases.

The search learns from ``train`` (bootstrapped demos), chooses on ``val`` and never sees
``test``: final figures are reported on ``test``, so a variant that overfits the validation
cases is exposed rather than celebrated.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from promptsuite.errors import ConfigError
from promptsuite.suite import ResolvedCase

__all__ = [
    "DEFAULT_FRACTIONS",
    "SPLITS",
    "fractions_text",
    "parse_fractions",
    "split_cases",
    "stratum",
]

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.4, 0.3, 0.3)


def parse_fractions(text: str) -> tuple[float, float, float]:
    """Read ``"0.4,0.3,0.3"`` (train, val, test); the parts are normalised to sum to 1.

    Raises:
        ConfigError: not three positive numbers.
    """
    try:
        parts = [float(part) for part in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3 or any(part <= 0 for part in parts):
        raise ConfigError(
            f"split {text!r}: expected three positive numbers train,val,test such as 0.4,0.3,0.3"
        )
    total = sum(parts)
    return parts[0] / total, parts[1] / total, parts[2] / total


def fractions_text(fractions: tuple[float, float, float]) -> str:
    """``0.40/0.30/0.30``: the shares of train, val and test."""
    return "/".join(f"{share:.2f}" for share in fractions)


def stratum(case: ResolvedCase, shared: frozenset[str]) -> str:
    """The tag a case is stratified by: its first tag that not every case carries."""
    return next((tag for tag in case.tags if tag not in shared), "")


def split_cases(
    cases: Sequence[ResolvedCase],
    *,
    seed: int,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
) -> dict[str, str]:
    """Assign every case to ``train``, ``val`` or ``test``.

    Cases are grouped by :func:`stratum` (strata and the cases inside them in a seeded
    order) and dealt in sequence to whichever split is furthest behind its share, so every
    stratum spreads over the splits in proportion and the totals match the fractions.

    Args:
        cases: The suite's cases.
        seed: Same seed, same split.
        fractions: Shares of train, val and test.

    Returns:
        Case id -> split name, in the suite's case order.

    Raises:
        ConfigError: too few cases for every split to get one.
    """
    if len(cases) < len(SPLITS):
        raise ConfigError(
            f"the suite has {len(cases)} case(s); splitting into train, validation and test "
            f"needs at least {len(SPLITS)}"
        )
    shared = frozenset.intersection(*(frozenset(case.tags) for case in cases))
    groups: dict[str, list[ResolvedCase]] = {}
    for case in cases:
        groups.setdefault(stratum(case, shared), []).append(case)
    rng = random.Random(f"promptsuite-split:{seed}")
    order = sorted(groups)
    rng.shuffle(order)
    sequence: list[ResolvedCase] = []
    for name in order:
        members = list(groups[name])
        rng.shuffle(members)
        sequence.extend(members)
    counts = [0, 0, 0]
    assigned: dict[str, str] = {}
    for position, case in enumerate(sequence, start=1):
        behind = [fractions[i] * position - counts[i] for i in range(len(SPLITS))]
        chosen = max(range(len(SPLITS)), key=lambda i: (behind[i], -i))
        counts[chosen] += 1
        assigned[case.id] = SPLITS[chosen]
    empty = [SPLITS[i] for i in range(len(SPLITS)) if counts[i] == 0]
    if empty:
        raise ConfigError(
            f"splitting {len(cases)} cases by {fractions_text(fractions)} leaves "
            f"{' and '.join(empty)} empty; add cases or change --split"
        )
    return {case.id: assigned[case.id] for case in cases}
