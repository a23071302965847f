"""The labels file of a suite: people's pass/fail verdicts on outputs, one JSON line each.

``suites/__labels__/SUITE.jsonl`` sits beside the suite (as its baseline does) and is
committed. Each line is a :class:`Label`, keyed by the case, the check and a digest of the
output it judged, and carrying that output, so a label never applies to another one.
Reading never stops at a bad line: each problem is one located line, and the line itself
stays in the file (saving a label rewrites only the lines of that label's key).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from promptsuite._files import write_text_atomic
from promptsuite._schema import FrozenRecord
from promptsuite.errors import ConfigError
from promptsuite.gate import digest

#: The folder beside a suite file that holds its labels.
LABELS_DIR = "__labels__"
#: The labels file format this promptsuite reads and writes.
LABELS_VERSION = 1

LabelKey = tuple[str, str, str]
"""``(case id, check, output digest)``: what one label judges."""


class Label(FrozenRecord):
    """A person's verdict on one output of one case, for one model-graded check."""

    version: Literal[1] = 1
    """Version of the line's shape."""
    case: str = Field(min_length=1)
    """The case id."""
    check: str = Field(min_length=1)
    """The check, as the review names it: its metric, else its type (``turn 2: ...`` in a
    conversation; ``#2``, ``#3`` for a name the case uses again)."""
    output_digest: str = Field(pattern=r"^[0-9a-f]{16}$")
    """The digest of the output judged (``promptsuite.gate.digest``)."""
    label: Literal["pass", "fail"]
    """The person's verdict."""
    output: str
    """The output judged, so the label is data of its own (a reference answer when it passed)."""
    rubric: str | None = None
    """The rubric the person judged against; a label of another rubric is not applied."""
    score: float | None = Field(None, ge=0, le=1)
    """An optional score from 0 to 1."""
    comment: str | None = None
    """An optional comment."""
    labeller: str | None = None
    """Who labelled it."""
    labelled_at: str | None = None
    """When (ISO 8601, UTC)."""
    model: str | None = None
    """The model that wrote the output, as the run labelled it."""
    variant: str | None = None
    """The prompt variant that produced it."""

    @model_validator(mode="after")
    def _digest_fits_output(self) -> Label:
        if digest(self.output) != self.output_digest:
            raise ValueError(
                f"output_digest: {self.output_digest} is not the digest of the label's output"
                f" (expected {digest(self.output)})"
            )
        return self

    @property
    def key(self) -> LabelKey:
        """What the label judges: its case, check and output."""
        return (self.case, self.check, self.output_digest)

    @property
    def passed(self) -> bool:
        """Whether the person passed the output."""
        return self.label == "pass"

    def line(self) -> str:
        """The label as one JSON line (no newline), keys in a fixed order."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True), ensure_ascii=False)


@dataclass(frozen=True)
class PlacedLabel:
    """A label and the line of the file it was read from."""

    label: Label
    line: int


@dataclass
class LabelsFile:
    """A suite's labels as read: the usable ones and a located line per problem.

    Attributes:
        path: The file, as the user would type it.
        labels: The labels that may be applied: valid, and neither a duplicate nor in
            conflict with another line of the file.
        problems: ``file:line: field: what is expected``, one per line that is not applied.
    """

    path: str
    labels: list[PlacedLabel] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def by_key(self) -> dict[LabelKey, PlacedLabel]:
        """The usable labels by what they judge."""
        return {placed.label.key: placed for placed in self.labels}


def labels_path(suite_path: str | Path, root: Path | None = None) -> Path:
    """``suites/__labels__/x.jsonl`` for ``suites/x.yaml`` (relative paths from ``root``)."""
    path = Path(suite_path)
    if root is not None and not path.is_absolute():
        path = root / path
    return path.parent / LABELS_DIR / f"{path.stem}.jsonl"


def read_labels(path: Path, shown: str | None = None) -> LabelsFile:
    """Read a labels file; a missing file has no labels.

    Every line that cannot be applied is reported (bad JSON, a field that is missing or
    wrong, a digest that does not fit the output, a repeated label, two labels that
    disagree on the same output) and none of them is applied; the file is not changed.

    Args:
        path: The file.
        shown: How messages name it (default: the path as given).

    Raises:
        ConfigError: The file exists but cannot be read as UTF-8 text.
    """
    name = shown or str(path)
    found = LabelsFile(name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return found
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read the labels file ({exc})") from None
    first: dict[LabelKey, PlacedLabel] = {}
    conflicted: set[LabelKey] = set()
    for number, raw in _lines(text):
        label = _parse(raw, f"{name}:{number}", found.problems)
        if label is None:
            continue
        earlier = first.get(label.key)
        if earlier is None:
            first[label.key] = PlacedLabel(label, number)
        elif earlier.label.label == label.label:
            found.problems.append(
                f"{name}:{number}: label: a duplicate of line {earlier.line} (case"
                f" {label.case!r}, check {label.check!r}, output {label.output_digest});"
                " expected one label per output: delete one"
            )
        else:
            conflicted.add(label.key)
            found.problems.append(
                f"{name}:{number}: label: {label.label!r} conflicts with {earlier.label.label!r}"
                f" on line {earlier.line} for the same output (case {label.case!r}, check"
                f" {label.check!r}); expected one verdict per output: keep one (neither is"
                " applied)"
            )
    found.labels = [placed for key, placed in first.items() if key not in conflicted]
    return found


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            yield number, raw


def _parse(raw: str, where: str, problems: list[str]) -> Label | None:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.append(f"{where}: (line): not JSON ({exc.msg}); expected one label object")
        return None
    if not isinstance(data, dict):
        problems.append(f"{where}: (line): expected a JSON object, got {type(data).__name__}")
        return None
    try:
        return Label.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = ".".join(str(part) for part in first["loc"])
        message = " ".join(str(first["msg"]).split()).removeprefix("Value error, ")
        if first["type"] == "literal_error" and path == "version":
            message = f"expected {LABELS_VERSION}: this promptsuite reads labels of version 1"
        # A check across fields (the digest against the output) names its field itself.
        problems.append(f"{where}: {path}: {message}" if path else f"{where}: {message}")
        return None


def save_label(path: Path, label: Label) -> Path:
    """Write ``label`` into the labels file, replacing the labels of the same key.

    Every other line (other labels, and lines that could not be read) is kept as it is.
    """
    kept = []
    if path.is_file():
        for _, raw in _lines(path.read_text(encoding="utf-8")):
            try:
                same = Label.model_validate_json(raw).key == label.key
            except ValidationError:
                same = False
            if not same:
                kept.append(raw)
    kept.append(label.line())
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, "\n".join(kept) + "\n")


def utc_now() -> str:
    """The time now, as labels record it."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
