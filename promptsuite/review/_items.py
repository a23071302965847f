"""What a person reviews: each output a judge passed or failed, once, with its label so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptsuite.console import shown
from promptsuite.labels import (
    JudgedOutput,
    Label,
    LabelsFile,
    judged_outputs,
    labels_path,
    read_labels,
    save_label,
    utc_now,
)
from promptsuite.results import RunResults


@dataclass
class ReviewItem:
    """One output of one case on one model-graded check, as the review page shows it.

    Attributes:
        judged: The judge's verdict on the output (kept from the page until answered).
        labels_file: The suite's labels file, where the person's label is saved.
        label: The person's label so far, if any.
    """

    judged: JudgedOutput
    labels_file: Path
    label: Label | None = None

    def public(self, index: int) -> dict[str, Any]:
        """What the page may show before the person answers (nothing of the judge's
        verdict unless already labelled)."""
        j = self.judged
        data: dict[str, Any] = {
            "index": index,
            "suite": j.suite,
            "case": j.case_id,
            "check": j.check,
            "model": j.model,
            "variant": j.variant,
            "judge": j.judge.id,
            "grader": j.judge.grader,
            "check_type": j.judge.check_type,
            "rubric": j.judge.rubric,
            "context": [list(pair) for pair in j.context],
            "output": j.output,
            "label": None,
            "verdict": None,
        }
        if self.label is not None:
            data["label"] = {
                "label": self.label.label,
                "score": self.label.score,
                "comment": self.label.comment,
            }
            data["verdict"] = self.verdict()
        return data

    def verdict(self) -> dict[str, Any]:
        """The judge's verdict, shown once the person has answered."""
        return {
            "passed": self.judged.passed,
            "score": self.judged.score,
            "reason": self.judged.reason,
        }


@dataclass
class ReviewQueue:
    """Every judged output of a run, each once, and where their labels go.

    Attributes:
        items: In the run's order (by test id), outputs judged alike listed once.
        problems: The labels files' lines that could not be read (one located line each).
        labeller: Who labels, recorded with each label.
    """

    items: list[ReviewItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    labeller: str | None = None

    @classmethod
    def of(cls, run: RunResults, root: Path, labeller: str | None = None) -> ReviewQueue:
        """The outputs of a run to review, with the labels their suites already have.

        Args:
            run: The run's results.
            root: The folder the run's suite paths start from.
            labeller: Who labels.
        """
        queue = cls(labeller=labeller)
        files: dict[str, tuple[Path, LabelsFile]] = {}
        seen = set()
        cases = sorted(run.cases, key=lambda c: c.test_id)
        for judged in judged_outputs(cases):
            if judged.suite_path not in files:
                path = labels_path(judged.suite_path, root)
                found = read_labels(path, shown(path, root))
                files[judged.suite_path] = (path, found)
                queue.problems += found.problems
            path, found = files[judged.suite_path]
            if (judged.suite_path, judged.key) in seen:
                continue
            seen.add((judged.suite_path, judged.key))
            placed = found.by_key().get(judged.key)
            label = placed.label if placed is not None else None
            queue.items.append(ReviewItem(judged, path, label))
        return queue

    def answer(
        self, index: int, verdict: str, score: float | None, comment: str | None
    ) -> ReviewItem:
        """Save a person's label of item ``index`` (replacing an earlier one of the same
        output) and return the item, its judge's verdict now to be shown.

        Raises:
            ValueError: ``index``, ``verdict`` or ``score`` is out of range.
        """
        if not 0 <= index < len(self.items):
            raise ValueError(f"item: expected 0 to {len(self.items) - 1}, got {index}")
        item = self.items[index]
        j = item.judged
        label = Label.model_validate(
            {
                "case": j.case_id,
                "check": j.check,
                "output_digest": j.output_digest,
                "label": verdict,
                "output": j.output,
                "rubric": j.judge.rubric,
                "score": score,
                "comment": comment or None,
                "labeller": self.labeller,
                "labelled_at": utc_now(),
                "model": j.model,
                "variant": j.variant,
            }
        )
        save_label(item.labels_file, label)
        item.label = label
        return item
