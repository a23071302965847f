"""The fine-tune page: one self-contained HTML file of a ``promptsuite finetune`` record.

Rendered from the record only (:class:`FinetuneRecord`): the loss curve, the learning curve,
prompt vs fine-tuned vs both on the held-out test cases, the per-tag table, the cost in time
and tokens, the agreement of the training stack with llama.cpp, and the command that
reproduces it. Drawn with the run report's kit (:mod:`promptsuite.report`, imported when a
page is drawn): inline SVG charts, no JavaScript, nothing loaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptsuite._files import write_text_atomic
from promptsuite.finetune._compare import FINETUNE_ADVICE
from promptsuite.finetune._record import ArmName, FinetuneRecord
from promptsuite.optimize import mean_score
from promptsuite.optimize.analysis import LearningCurve

__all__ = ["curve_chart", "loss_chart", "render_finetune_report", "write_finetune_report"]

ORANGE = "#e65100"
PURPLE = "#6a1b9a"
_WIDTH = 720.0

#: What each arm of the re-test is, in the order the page shows them.
ARM_NAMES: dict[ArmName, str] = {
    "baseline": "your prompt, base model",
    "prompt": "best prompt, base model",
    "finetuned": "your prompt, fine-tuned model",
    "both": "best prompt, fine-tuned model",
}


@dataclass(frozen=True)
class ArmRow:
    """One arm as the page's test table shows it."""

    name: ArmName
    label: str
    model: str
    variant: str
    score: float
    passed: int
    cases: int


def write_finetune_report(record: FinetuneRecord, out_dir: str | Path) -> list[Path]:
    """Write ``finetune.html`` beside the record; returns the paths (page first)."""
    out = Path(out_dir)
    return [write_text_atomic(out / "finetune.html", render_finetune_report(record))]


def render_finetune_report(record: FinetuneRecord) -> str:
    """The HTML page of a fine-tune record."""
    from markupsafe import Markup

    from promptsuite.report import asset, environment

    judgement = record.judgement
    charts = [("Training loss", Markup(loss_chart(record)))]
    if judgement is not None and judgement.curve is not None:
        title = "Learning curve (test score by train rows)"
        charts.append((title, Markup(curve_chart(judgement.curve))))
    arms = _arm_rows(record)
    return str(
        environment()
        .get_template("finetune.html.j2")
        .render(
            r=record,
            j=judgement,
            advised=judgement is None
            or judgement.advice_before is None
            or judgement.advice_before.code in FINETUNE_ADVICE,
            arms=arms,
            arm_names=[a.name for a in arms],
            charts=charts,
            css=Markup(asset("report.css") + asset("optimization.css")),
        )
    )


def _arm_rows(record: FinetuneRecord) -> list[ArmRow]:
    retested = record.retest
    if retested is None:
        return []
    return [
        ArmRow(
            name=name,
            label=ARM_NAMES[name],
            model=retested.arms[name].model,
            variant=retested.arms[name].variant,
            score=mean_score(retested.test[name]),
            passed=sum(1 for c in retested.test[name] if c.passed),
            cases=len(retested.test[name]),
        )
        for name in ARM_NAMES
        if name in retested.test
    ]


def loss_chart(record: FinetuneRecord) -> str:
    """Training loss per step, validation loss per epoch, the step kept."""
    from promptsuite.report import BLUE, PASS, Canvas, nice_ticks, tick_text

    training = record.training
    losses = training.losses
    val = [(float(s), v) for s, v in training.val_losses]
    best = training.best_step
    steps = max(len(losses), *(int(s) for s, _ in val), 1) if val else max(len(losses), 1)
    values = losses + [v for _, v in val] or [0.0, 1.0]
    low, high = min(0.0, *values), max(values) * 1.05 or 1.0
    canvas = Canvas(
        _WIDTH,
        240,
        "Fine-tuning loss",
        f"Training loss over {len(losses)} steps, from {_num(losses, 0)} to {_num(losses, -1)}"
        + ("; validation loss " + ", ".join(f"step {s:g}: {v:.3g}" for s, v in val) if val else "")
        + (f"; the step kept: {best}" if best else ""),
    )
    plot = canvas.panel(56, 14, _WIDTH - 80, 240 - 60, (0.5, steps + 0.5), (low, high))
    plot.frame(
        xticks=[(v, tick_text(v)) for v in nice_ticks(1, steps, 8) if 0.5 <= v <= steps + 0.5],
        yticks=[(v, tick_text(v)) for v in nice_ticks(low, high)],
        xlabel="step",
        ylabel="loss (reply tokens)",
    )
    plot.polyline(
        [(float(i + 1), v) for i, v in enumerate(losses)], f'stroke="{BLUE}" stroke-width="1.5"'
    )
    entries = [(BLUE, "train loss")]
    if val:
        plot.polyline(val, f'stroke="{ORANGE}" stroke-width="1.5"')
        plot.dots(val, ORANGE)
        entries.append((ORANGE, "validation loss"))
    if best:
        plot.polyline(
            [(float(best), low), (float(best), high)],
            f'stroke="{PASS}" stroke-width="1" stroke-dasharray="2 3"',
        )
        entries.append((PASS, "kept"))
    canvas.legend(plot.left + plot.width - 120, plot.top + 4, entries)
    return canvas.render("ft-loss")


def curve_chart(curve: LearningCurve) -> str:
    """Measured test score by train rows, the fitted log curve, the target."""
    from promptsuite.report import BLUE, PASS, Canvas, nice_ticks, tick_text

    points = [(float(n), v) for n, v in curve.points]
    last = max(n for n, _ in points)
    end = max(last, curve.rows_needed or last) * 1.1
    xs = [1 + (end - 1) * i / 60 for i in range(61)]
    fit = [min(1.0, max(0.0, curve.intercept + curve.slope * math.log(x))) for x in xs]
    canvas = Canvas(
        _WIDTH,
        240,
        "Learning curve",
        "Test score by train rows: "
        + ", ".join(f"{n:g} rows: {v:.3g}" for n, v in points)
        + f"; fitted {curve.intercept:.3g} + {curve.slope:.3g} ln(rows)"
        + f"; target {curve.target:.3g}"
        + (f", reached at about {curve.rows_needed:g} rows" if curve.rows_needed else ""),
    )
    plot = canvas.panel(56, 14, _WIDTH - 80, 240 - 60, (0.0, end), (-0.02, 1.02))
    plot.frame(
        xticks=[(v, tick_text(v)) for v in nice_ticks(0.0, end, 8) if 0.0 <= v <= end],
        yticks=[(v, tick_text(v)) for v in nice_ticks(0.0, 1.0)],
        xlabel="train rows",
        ylabel="test score",
    )
    plot.polyline(list(zip(xs, fit, strict=True)), f'stroke="{PASS}" stroke-width="1.5"')
    plot.polyline(
        [(0.0, curve.target), (end, curve.target)],
        f'stroke="{PURPLE}" stroke-width="1" stroke-dasharray="5 3"',
    )
    plot.dots(points, BLUE)
    canvas.legend(
        plot.left + plot.width - 140,
        plot.top + plot.height - 52,
        [(BLUE, "measured"), (PASS, "fit a + b ln(rows)"), (PURPLE, "target")],
    )
    return canvas.render("ft-curve")


def _num(values: Sequence[float], at: int) -> str:
    return f"{values[at]:.3g}" if values else "—"
