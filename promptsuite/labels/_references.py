"""People's passing outputs as reference answers: what the optimizer and the fine-tune may
learn from, with where each came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptsuite.labels._file import PlacedLabel, labels_path, read_labels

#: How a labelled reference's provenance reads.
LABELLED_BY_A_PERSON = "labelled by a person"


@dataclass(frozen=True)
class LabelledReference:
    """A case's output that a person passed.

    Attributes:
        case_id: The case.
        output: The output text.
        checks: The checks the person passed it on (and failed it on none).
        provenance: ``labelled by a person``, with the labels file's line, who and when.
        labeller: Who labelled it, if recorded.
        labelled_at: When, if recorded (ISO 8601, UTC).
        model: The model that wrote it, if recorded.
    """

    case_id: str
    output: str
    checks: tuple[str, ...]
    provenance: str
    labeller: str | None = None
    labelled_at: str | None = None
    model: str | None = None


def labelled_references(
    suite_path: str | Path, root: Path | None = None
) -> dict[str, LabelledReference]:
    """Each case's person-labelled passing output, from the suite's labels file.

    An output qualifies when a person passed it on at least one check and failed it on
    none. When several outputs of a case qualify, the most recently labelled one is the
    reference. Lines that cannot be applied (see :func:`read_labels`) are not used; a
    suite without a labels file has no references.

    Args:
        suite_path: The suite file (``suites/support.yaml``).
        root: The folder a relative ``suite_path`` starts from (default: the working
            folder).

    Returns:
        ``{case id: reference}``, for the cases that have one.

    Raises:
        ConfigError: The labels file exists but cannot be read.
    """
    path = labels_path(suite_path, root)
    by_output: dict[tuple[str, str], list[PlacedLabel]] = {}
    for placed in read_labels(path).labels:
        by_output.setdefault((placed.label.case, placed.label.output_digest), []).append(placed)
    chosen: dict[str, tuple[tuple[str, int], LabelledReference]] = {}
    for (case_id, _), placed_labels in by_output.items():
        if not all(p.label.passed for p in placed_labels):
            continue
        latest = max(placed_labels, key=lambda p: (p.label.labelled_at or "", p.line))
        label = latest.label
        who = f" by {label.labeller}" if label.labeller else ""
        when = f" on {label.labelled_at}" if label.labelled_at else ""
        reference = LabelledReference(
            case_id=case_id,
            output=label.output,
            checks=tuple(sorted(p.label.check for p in placed_labels)),
            provenance=f"{LABELLED_BY_A_PERSON} ({path}:{latest.line}{who}{when})",
            labeller=label.labeller,
            labelled_at=label.labelled_at,
            model=label.model,
        )
        order = (label.labelled_at or "", latest.line)
        if case_id not in chosen or order > chosen[case_id][0]:
            chosen[case_id] = (order, reference)
    return {case_id: reference for case_id, (_, reference) in sorted(chosen.items())}
