"""Render the report in a child process that starts early, so its slow imports overlap the run.

Importing matplotlib takes most of a report's time (~0.8 s of ~1.3 s for 200 cases). The
plugin starts this process as soon as the cases start running; it imports the chart stack on
another core while the run goes on, then waits for one JSON request on stdin naming the saved
results file, renders the page from that file, and answers with one JSON line on stdout.
End of input (the run had nothing to report, or was interrupted) makes it exit quietly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptsuite.errors import PromptsuiteError, ReportError


class ReportProcess:
    """The parent's handle on a prewarmed report renderer."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-m", "promptsuite.report._child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def render(
        self,
        results: Path,
        out: Path,
        *,
        root: Path,
        prices: Mapping[str, tuple[float, float]],
        copy_to: Path | None,
        timeout: float = 600,
    ) -> Path:
        """Render ``results`` into ``out`` in the child and wait for it.

        Raises:
            ReportError: The child could not render the page (its one-line reason), died or
                did not answer in time.
        """
        process = self._process
        if process is None:
            raise ReportError("the report process was already used")
        self._process = None
        request = {
            "results": str(results),
            "out": str(out),
            "root": str(root),
            "prices": {model: list(price) for model, price in prices.items()},
            "copy_to": str(copy_to) if copy_to else None,
        }
        try:
            stdout, stderr = process.communicate(json.dumps(request) + "\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise ReportError(f"the report was not rendered within {timeout:.0f} s") from None
        except OSError as exc:  # the child died before reading its request
            raise ReportError(f"the report process failed: {exc}") from None
        answer = _last_json_line(stdout)
        if process.returncode == 0 and "written" in answer:
            return Path(answer["written"])
        reason = answer.get("error") or (stderr.strip().splitlines() or ["no output"])[-1]
        raise ReportError(f"the report process failed: {reason}")

    def close(self) -> None:
        """Stop the child if it was never used (nothing to report, or an interrupted run)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.communicate()


def _last_json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def main() -> int:
    """The child: import the chart stack, then render the one requested report."""
    from promptsuite.report._render import prewarm, write_report

    prewarm()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    try:
        written = write_report(
            request["results"],
            request["out"],
            root=request["root"],
            prices={model: (price[0], price[1]) for model, price in request["prices"].items()},
            copy_to=request["copy_to"],
        )
    except (PromptsuiteError, OSError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps({"written": str(written)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
