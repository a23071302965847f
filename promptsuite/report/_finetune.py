"""The fine-tune report: one self-contained HTML page of a ``promptsuite finetune`` record.

Rendered from the saved record only (``finetune.json``): the loss curve, the learning curve,
prompt vs fine-tuned vs both on the held-out test cases, the per-tag table, the cost in time
and tokens, the agreement of the training stack with llama.cpp, and the command that
reproduces it. Charts are the run report's matplotlib SVG; no JavaScript, nothing loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptsuite._files import write_text_atomic
from promptsuite.report._charts import figure, style, svg
from promptsuite.report._templates import asset, environment

__all__ = ["render_finetune_report", "write_finetune_report"]

#: The arms of the re-test, in the order the page shows them.
ARMS = ("baseline", "prompt", "finetuned", "both")
ARM_NAMES = {
    "baseline": "your prompt, base model",
    "prompt": "best prompt, base model",
    "finetuned": "your prompt, fine-tuned model",
    "both": "best prompt, fine-tuned model",
}


def write_finetune_report(record: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``finetune.html`` beside the record; returns the paths (page first)."""
    out = Path(out_dir)
    return [write_text_atomic(out / "finetune.html", render_finetune_report(record))]


def render_finetune_report(record: Mapping[str, Any]) -> str:
    """The HTML page of a fine-tune record."""
    from markupsafe import Markup

    charts = [("Training loss", Markup(loss_chart(record)))]
    if record.get("curve"):
        charts.append(("Learning curve (test score by train rows)", Markup(curve_chart(record))))
    test = record.get("test") or {}
    arms = [
        {
            "name": name,
            "label": ARM_NAMES[name],
            **record["arms"][name],
            "score": _mean([_case(c) for c in test[name]]),
            "passed": sum(1 for c in test[name] if c["passes"] and all(c["passes"])),
            "cases": len(test[name]),
        }
        for name in ARMS
        if name in test
    ]
    return str(
        environment()
        .get_template("finetune.html.j2")
        .render(
            r=record,
            arms=arms,
            arm_names=[a["name"] for a in arms],
            charts=charts,
            css=Markup(asset("report.css") + asset("optimization.css")),
        )
    )


def loss_chart(record: Mapping[str, Any]) -> str:
    """Training loss per step, validation loss per epoch, the step kept."""
    training = record["training"]
    with style():
        fig, ax = figure(height=3.0)
        losses = training["losses"]
        ax.plot(range(1, len(losses) + 1), losses, color="#1565c0", label="train loss")
        val = training["val_losses"]
        if val:
            ax.plot(
                [s for s, _ in val],
                [v for _, v in val],
                "o-",
                color="#e65100",
                label="validation loss",
            )
        if training["best_step"]:
            ax.axvline(training["best_step"], color="#2e7d32", linestyle=":", label="kept")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (reply tokens)")
        ax.legend(loc="upper right", frameon=False, fontsize=7)
        return svg(fig, "ft-loss")


def curve_chart(record: Mapping[str, Any]) -> str:
    """Measured test score by train rows, the fitted log curve, the target."""
    import math

    curve = record["curve"]
    points = curve["points"]
    with style():
        fig, ax = figure(height=3.0)
        ax.plot(
            [n for n, _ in points], [s for _, s in points], "o", color="#1565c0", label="measured"
        )
        last = max(n for n, _ in points)
        end = max(last, curve["rows_needed"] or last) * 1.1
        xs = [1 + (end - 1) * i / 60 for i in range(61)]
        fit = [min(1.0, max(0.0, curve["intercept"] + curve["slope"] * math.log(x))) for x in xs]
        ax.plot(xs, fit, color="#2e7d32", label="fit a + b ln(rows)")
        ax.axhline(curve["target"], color="#6a1b9a", linestyle="--", linewidth=1, label="target")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("train rows")
        ax.set_ylabel("test score")
        ax.legend(loc="lower right", frameon=False, fontsize=7)
        return svg(fig, "ft-curve")


def _case(case: Mapping[str, Any]) -> float:
    return _mean(case.get("scores") or [0.0])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
