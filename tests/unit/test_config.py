"""Option resolution: command line over ini over [tool.promptsuite] over environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptsuite.cache import CacheMode
from promptsuite.config import read_pyproject_table, resolve
from promptsuite.errors import ConfigError


def lookup_from(values: dict[str, Any]) -> Any:
    return lambda name: values.get(name)


def test_defaults(tmp_path: Path) -> None:
    config = resolve(lookup_from({}), {}, tmp_path, environ={})
    assert config.settings.concurrency == 16
    assert config.settings.cache_mode is CacheMode.USE
    assert config.settings.cache_path == tmp_path / ".promptsuite" / "cache.sqlite"
    assert config.results_dir == tmp_path / "reports"
    assert config.models == ()
    assert config.settings.reducer is None  # each suite's own reducer applies


def test_precedence(tmp_path: Path) -> None:
    table = {"concurrency": 4, "cache": "off", "model": ["openai:gpt-4o-mini"]}
    env = {"PROMPTSUITE_CONCURRENCY": "2", "PROMPTSUITE_REPEAT": "3"}
    config = resolve(lookup_from({"concurrency": "8"}), table, tmp_path, environ=env)
    assert config.settings.concurrency == 8
    assert config.settings.cache_mode is CacheMode.OFF
    assert config.settings.repeat == 3
    env["PROMPTSUITE_REDUCER"] = "any-pass"
    assert resolve(lookup_from({}), {}, tmp_path, environ=env).settings.reducer == "any-pass"
    assert [m.display for m in config.models] == ["openai:gpt-4o-mini"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"concurrency": "many"}, "expected an integer"),
        ({"concurrency": "0"}, "at least 1"),
        ({"cache": "sometimes"}, "not one of"),
        ({"model": [":x"]}, "no provider"),
        ({"reducer": "median"}, "reducer: expected one of all-pass, mean, any-pass"),
    ],
)
def test_bad_values(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(lookup_from(values), {}, tmp_path, environ={})


def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.promptsuite]\ncache_path = "x.db"\n')
    table = read_pyproject_table(tmp_path)
    config = resolve(lookup_from({}), table, tmp_path, environ={})
    assert config.settings.cache_path == tmp_path / "x.db"
    (tmp_path / "pyproject.toml").write_text("[tool.promptsuite\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        read_pyproject_table(tmp_path)


def test_report_path_and_prices(tmp_path: Path) -> None:
    config = resolve(lookup_from({}), {}, tmp_path, environ={})
    assert config.report == tmp_path / "reports" / "latest.html"
    assert config.prices == {}
    config = resolve(lookup_from({"report": "off"}), {}, tmp_path, environ={})
    assert config.report is None
    table = {"report": "out/r.html", "prices": {"gpt-x": [1, 2.5]}}
    config = resolve(lookup_from({}), table, tmp_path, environ={})
    assert config.report == tmp_path / "out" / "r.html"
    assert config.prices == {"gpt-x": (1.0, 2.5)}
    with pytest.raises(ConfigError, match=r"prices\] gpt-x: expected \[USD per 1M prompt"):
        resolve(lookup_from({}), {"prices": {"gpt-x": "cheap"}}, tmp_path, environ={})
