"""A whole run's results: the cases and how they were run, persisted as versioned JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsuite._files import write_json_atomic
from promptsuite.errors import ConfigError, MissingDependency
from promptsuite.prices import Price
from promptsuite.results._records import CaseResult
from promptsuite.results._tables import (
    CHECK_COLUMNS,
    SAMPLE_COLUMNS,
    check_rows,
    export_rows,
    sample_rows,
)

if TYPE_CHECKING:
    import pandas as pd

#: Changes whenever a field of the results file changes meaning.
RESULTS_VERSION = 1


@dataclass
class RunResults:
    """Everything one run produced, plus how it was run."""

    cases: list[CaseResult] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The results file's content, cases in test-id order."""
        return {
            "version": RESULTS_VERSION,
            "metadata": self.metadata,
            "cases": [c.to_dict() for c in sorted(self.cases, key=lambda c: c.test_id)],
        }

    def write(self, path: str | Path) -> Path:
        """Write atomically: readers never see a half-written file."""
        return write_json_atomic(Path(path), self.to_dict())

    def rows(self, prices: Mapping[str, Price] | None = None) -> list[dict[str, Any]]:
        """One flat row per case x model x prompt variant x repeat (see :func:`sample_rows`)."""
        return sample_rows(self.cases, prices)

    def check_rows(self) -> list[dict[str, Any]]:
        """One flat row per check of every repeat (see :func:`check_rows`)."""
        return check_rows(self.cases)

    def to_dataframe(self, prices: Mapping[str, Price] | None = None) -> pd.DataFrame:
        """The results as a pandas DataFrame, one row per case x model x prompt x repeat.

        Args:
            prices: Per-model prices overriding :data:`promptsuite.prices.DEFAULT_PRICES`
                for ``cost_usd``.

        Raises:
            MissingDependency: If pandas is not installed.
        """
        frame: pd.DataFrame = _pandas().DataFrame(self.rows(prices), columns=SAMPLE_COLUMNS)
        return frame

    def checks_dataframe(self) -> pd.DataFrame:
        """The tidy per-check view: one row per check of every repeat."""
        frame: pd.DataFrame = _pandas().DataFrame(self.check_rows(), columns=CHECK_COLUMNS)
        return frame

    def export(
        self,
        path: str | Path,
        *,
        checks: bool = False,
        prices: Mapping[str, Price] | None = None,
    ) -> Path:
        """Write the rows as CSV or JSON Lines, chosen by the file's suffix.

        Args:
            path: Target file, ending in ``.csv`` or ``.jsonl``.
            checks: Write the per-check view instead of one row per repeat.
            prices: Per-model prices overriding :data:`promptsuite.prices.DEFAULT_PRICES`.

        Raises:
            ConfigError: If the suffix is neither ``.csv`` nor ``.jsonl``.
        """
        return export_rows(
            self.check_rows() if checks else self.rows(prices),
            CHECK_COLUMNS if checks else SAMPLE_COLUMNS,
            Path(path),
        )


def load(path: str | Path) -> RunResults:
    """Read a results file written by a run.

    Raises:
        ConfigError: The file is of another results version.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    version = data.get("version")
    if version != RESULTS_VERSION:
        raise ConfigError(
            f"{path}: results version {version!r} is not supported; expected {RESULTS_VERSION}"
        )
    return RunResults(
        cases=[CaseResult.from_dict(c) for c in data["cases"]], metadata=data["metadata"]
    )


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingDependency("pandas", 'pip install "promptsuite[data]"') from None
    return pandas
