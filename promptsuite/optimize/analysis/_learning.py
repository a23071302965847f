"""How many labelled cases a fine-tune would need: a learning curve, fitted and solved.

``promptsuite finetune --curve`` trains on seeded shares of the train rows (25%, 50%, 100%)
and tests each on the held-out split. Test score against train rows is fitted by
``score = a + b * ln(rows)`` (least squares), the simplest curve with diminishing returns
that few points can fit (Le Scao & Rush 2021, "How Many Data Points is a Prompt Worth?",
report such log-linear growth); solved for the target, it says how many train rows, and so
how many labelled cases at the split's shares, the target would take. The advisor uses this
estimate in place of a fixed threshold when a fine-tune record is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from promptsuite._schema import FrozenRecord

__all__ = ["LearningCurve", "fit_learning_curve"]

#: The estimate is not extrapolated past this many times the largest share measured.
MAX_EXTRAPOLATION = 20


class LearningCurve(FrozenRecord):
    """A fitted learning curve and what it says about the target (a record: the fine-tune
    saves it, the optimizer's advice reads it back)."""

    points: tuple[tuple[int, float], ...]
    """``(train rows, test score)`` measured."""
    intercept: float
    """``a`` of ``score = a + b ln(rows)``."""
    slope: float
    """``b``: the gain per doubling is ``b ln 2``."""
    target: float
    """The score aimed at."""
    rows_needed: int | None
    """Train rows the fit reaches the target at (None: the curve does not rise, or only
    past :data:`MAX_EXTRAPOLATION` times the rows measured)."""
    cases_needed: int | None
    """Labelled cases for that many train rows at the split's train share."""
    train_share: float
    """The train share of labelled cases the estimate assumes."""
    reached: bool
    """The largest measurement already reaches the target."""

    def predict(self, rows: float) -> float:
        """The fitted score at ``rows`` train rows (clipped to 0..1)."""
        return min(1.0, max(0.0, self.intercept + self.slope * math.log(max(rows, 1.0))))

    def reason(self) -> str:
        """The estimate in words, for the advice."""
        shown = ", ".join(f"{n} rows: {s:.2f}" for n, s in self.points)
        if self.reached:
            return f"the fine-tune's learning curve ({shown}) already reaches {self.target:g}"
        if self.cases_needed is None:
            return (
                f"the fine-tune's learning curve ({shown}) does not rise towards "
                f"{self.target:g} within {MAX_EXTRAPOLATION}x the rows measured; more labels "
                "alone are unlikely to reach the target"
            )
        return (
            f"the fine-tune's learning curve ({shown}; fit {self.intercept:.2f} + "
            f"{self.slope:.3f} ln rows) reaches {self.target:g} at about {self.rows_needed} "
            f"train rows, about {self.cases_needed} labelled cases at a train share of "
            f"{self.train_share:.0%}"
        )


def fit_learning_curve(
    points: Sequence[tuple[int, float]], target: float, train_share: float
) -> LearningCurve:
    """Fit ``score = a + b ln(rows)`` to the points and solve it for ``target``.

    Args:
        points: ``(train rows, test score)``, at least one.
        target: The score aimed at.
        train_share: Share of labelled cases that go to training (the split's first share).

    Raises:
        ValueError: No points, a point with no rows, or a share outside (0, 1].
    """
    if not points:
        raise ValueError("a learning curve needs at least one point")
    if any(n < 1 for n, _ in points):
        raise ValueError("every point needs at least one train row")
    if not 0 < train_share <= 1:
        raise ValueError(f"train_share must be in (0, 1], got {train_share}")
    ordered = tuple(sorted((int(n), float(s)) for n, s in points))
    xs = [math.log(n) for n, _ in ordered]
    ys = [s for _, s in ordered]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = (
        sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
        if spread
        else 0.0
    )
    intercept = mean_y - slope * mean_x
    reached = ordered[-1][1] >= target
    rows_needed: int | None = None
    if reached:
        rows_needed = ordered[-1][0]
    elif slope > 0:
        estimate = math.exp((target - intercept) / slope)
        if estimate <= ordered[-1][0] * MAX_EXTRAPOLATION:
            rows_needed = max(ordered[-1][0] + 1, math.ceil(estimate - 1e-9))
    cases_needed = math.ceil(rows_needed / train_share) if rows_needed is not None else None
    return LearningCurve(
        points=ordered,
        intercept=round(intercept, 6),
        slope=round(slope, 6),
        target=target,
        rows_needed=rows_needed,
        cases_needed=cases_needed,
        train_share=train_share,
        reached=reached,
    )
