"""Option resolution: command line over ini over [tool.promptsuite] over environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptsuite.cache import CacheMode
from promptsuite.config import Shard, read_pyproject_table, resolve
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


MAPPING = '{provider: openai, model: smollm2, base_url: "http://127.0.0.1:8080/v1", label: llama}'


@pytest.mark.parametrize(
    "value",
    [
        MAPPING,
        f"  {MAPPING}  ",
        {
            "provider": "openai",
            "model": "smollm2",
            "base_url": "http://127.0.0.1:8080/v1",
            "label": "llama",
        },
    ],
)
def test_the_model_option_takes_what_a_suite_takes(tmp_path: Path, value: Any) -> None:
    # The suite file's mapping, as YAML text on the command line or a TOML table.
    config = resolve(lookup_from({"model": [value]}), {}, tmp_path, environ={})
    [model] = config.models
    assert (model.provider, model.model, model.label) == ("openai", "smollm2", "llama")
    assert model.options_dict == {"base_url": "http://127.0.0.1:8080/v1"}
    table = resolve(lookup_from({}), {"model": value}, tmp_path, environ={})
    assert table.models == config.models
    env = resolve(lookup_from({}), {}, tmp_path, environ={"PROMPTSUITE_MODEL": MAPPING})
    assert env.models == config.models


def test_the_grader_option_takes_a_mapping_too(tmp_path: Path) -> None:
    config = resolve(lookup_from({"grader": MAPPING}), {}, tmp_path, environ={})
    assert config.settings.grader is not None and config.settings.grader.display == "llama"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{provider: openai", r"option model '\{provider: openai' is not valid YAML \(expected"),
        ("{provider: nope}", r"unknown model provider 'nope'; expected one of: local, openai"),
        ("nope:x", r"option model 'nope:x': unknown model provider 'nope'"),
        ("{model: x}", r"a model mapping needs 'provider'.*or a YAML mapping such as"),
        ("{provider: openai, timeout: -1}", r"openai option 'timeout' must be a positive"),
        ("{provider: local, thread: 2}", r"unknown option\(s\) for the local model: thread"),
        (42, r"option model: got 42; expected what a suite's models list takes"),
    ],
)
def test_a_bad_model_is_one_error_saying_what_is_expected(
    tmp_path: Path, value: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(lookup_from({"model": [value]}), {}, tmp_path, environ={})


def test_two_models_with_one_label_are_refused(tmp_path: Path) -> None:
    values = {"model": ["openai:m", "{provider: openai, model: m, base_url: http://x/v1}"]}
    with pytest.raises(ConfigError, match="two models are both labelled 'openai:m'"):
        resolve(lookup_from(values), {}, tmp_path, environ={})


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "1-3", "a/b", "1/3/5"])
def test_a_bad_shard_says_what_is_expected(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="option shard: expected INDEX/COUNT with 1 <= INDEX"):
        resolve(lookup_from({"shard": text}), {}, tmp_path, environ={})


def test_shards_split_items_stably_disjointly_and_completely() -> None:
    ids = [f"suites/s{n % 7}.yaml::case-{n}[local]" for n in range(600)]
    shards = [Shard.parse(f"{i}/4") for i in range(1, 5)]
    owners = [[s.index for s in shards if s.holds(item)] for item in ids]
    assert all(len(found) == 1 for found in owners)  # each item in exactly one shard
    sizes = [sum(found == [s.index] for found in owners) for s in shards]
    assert min(sizes) > 100  # roughly even: 150 each expected
    # The split depends on the id alone: not on order, nor on what else was collected.
    assert [s.holds(item) for s in shards for item in reversed(ids)] == [
        s.holds(item) for s in shards for item in reversed(ids[:300] + ids[300:])
    ]
    assert Shard.parse(" 2 / 4 ") == shards[1] and str(shards[1]) == "2/4"
    assert shards[1].name == "shard-2-of-4"


def test_a_shard_writes_its_own_results_report_and_cache(tmp_path: Path) -> None:
    config = resolve(lookup_from({"shard": "2/3"}), {}, tmp_path, environ={})
    assert config.shard == Shard(2, 3)
    assert config.report == tmp_path / "reports" / "shard-2-of-3.html"
    shared = tmp_path / ".promptsuite" / "cache.sqlite"
    assert config.settings.cache_path == shared.with_name("cache.shard-2-of-3.sqlite")
    assert config.settings.cache_seed == shared
    # Replay only reads: every shard reads the one cassette.
    replay = resolve(lookup_from({"shard": "2/3", "cache": "replay"}), {}, tmp_path, environ={})
    assert replay.settings.cache_path == shared and replay.settings.cache_seed is None


def test_add_cache_arguments_spells_the_cache_options_of_every_command() -> None:
    import argparse

    from promptsuite.config import DEFAULT_CACHE_PATH, add_cache_arguments

    parser = argparse.ArgumentParser()
    add_cache_arguments(parser, "the re-test")
    defaults = parser.parse_args([])
    assert (defaults.cache, defaults.cache_path) == ("use", str(DEFAULT_CACHE_PATH))
    given = parser.parse_args(["--cache", "replay", "--cache-path", "x.sqlite"])
    assert (given.cache, given.cache_path) == ("replay", "x.sqlite")
    assert "of the re-test" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--cache", "sometimes"])
