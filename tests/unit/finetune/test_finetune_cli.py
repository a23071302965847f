"""``promptsuite finetune``'s options: bad values are one clear error before anything loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsuite.cli import main
from promptsuite.commands._finetune import parse_shares
from promptsuite.errors import ConfigError


def test_curve_shares_are_read_and_checked() -> None:
    assert parse_shares("0.25,0.5") == (0.25, 0.5)
    assert parse_shares(None) == ()
    for bad in ("0.25,1", "half", "0"):
        with pytest.raises(ConfigError, match="--curve"):
            parse_shares(bad)


def test_bad_options_exit_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text("cases: []\n")
    assert main(["finetune", str(suite), "--epochs", "0"]) == 2
    assert "--epochs must be at least 1, got 0" in capsys.readouterr().err
    assert main(["finetune", str(suite), "--model-file", str(tmp_path / "none.gguf")]) == 2
    assert "--model-file" in capsys.readouterr().err
    assert main(["finetune", str(suite), "--patience", "0"]) == 2
    assert "--patience must be at least 1, got 0" in capsys.readouterr().err
    assert main(["finetune", str(suite), "--min-delta", "-0.1"]) == 2
    assert "--min-delta must be at least 0, got -0.1" in capsys.readouterr().err
