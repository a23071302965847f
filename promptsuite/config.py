"""Run options from the command line, ini files and ``[tool.promptsuite]``, resolved once.

Precedence, highest first: command line, ``[tool.pytest.ini_options]`` (``promptsuite_*``
keys), ``[tool.promptsuite]`` in ``pyproject.toml``, ``PROMPTSUITE_*`` environment
variables, built-in defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from promptsuite.cache import CacheMode
from promptsuite.errors import ConfigError
from promptsuite.models import ModelSpec, parse_model_spec
from promptsuite.prices import Price
from promptsuite.stats import DEFAULT_GATE_MARGIN, REDUCERS, Reducer

DEFAULT_CONCURRENCY = 16
DEFAULT_CACHE_PATH = Path(".promptsuite") / "cache.sqlite"

BaselineMissing = Literal["warn", "fail"]
"""What a suite without a baseline does: say so in the summary, or fail its gate."""
GateInconclusive = Literal["pass", "fail"]
"""What an inconclusive gate does: pass with a warning, or fail."""


@dataclass(frozen=True)
class RunSettings:
    """How a run is carried out.

    Attributes:
        concurrency: Most model requests in flight at once, over all providers.
        cache_mode: How the response cache is used.
        cache_path: The SQLite file holding cached responses.
        repeat: Overrides every case's repeat count when set.
        grader: Default grader model for ``judge`` checks (else the case's own model).
        reducer: Overrides every case's repeat reducer when set.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    cache_mode: CacheMode = CacheMode.USE
    cache_path: Path = DEFAULT_CACHE_PATH
    repeat: int | None = None
    grader: ModelSpec | None = None
    reducer: Reducer | None = None


#: Option name -> help text. Each is ``--promptsuite-<name>`` on the command line,
#: ``promptsuite_<name>`` in ini files and ``<name>`` in ``[tool.promptsuite]``.
OPTIONS: dict[str, str] = {
    "model": "run every suite on this model instead of its own (repeatable; "
    "'local', 'local:/path.gguf', 'openai:gpt-4o-mini', 'replay:local')",
    "concurrency": f"most model requests in flight at once (default {DEFAULT_CONCURRENCY})",
    "repeat": "run every case this many times",
    "reducer": "how a case's repeats make one verdict, for every suite: all-pass, mean or "
    "any-pass (default: each suite's own, else all-pass)",
    "cache": "response cache mode: use (default), refresh, off, replay",
    "cache-path": f"response cache file (default {DEFAULT_CACHE_PATH})",
    "results": "folder for results files (default reports)",
    "grader": "default grader model for judge checks (default: the case's model)",
    "report": "the HTML report to write at the end of a run (default <results>/latest.html, "
    "plus a timestamped copy in <results>/runs/); 'off' writes none",
    "update-baseline": "record (or refresh) every suite's baseline from this run, pruning "
    "entries of cases that no longer exist",
    "baseline-missing": "what a suite without a baseline does: warn (default) or fail",
    "gate-margin": f"score drop the suite gate tolerates (default {DEFAULT_GATE_MARGIN})",
    "gate-inconclusive": "what an inconclusive gate does: pass (default, with a warning) or fail",
}

#: Options that are flags on the command line.
FLAGS = frozenset({"update-baseline"})
#: Options with a fixed set of values, the default first.
CHOICES: dict[str, tuple[str, ...]] = {
    "reducer": REDUCERS,
    "cache": tuple(mode.value for mode in CacheMode),
    "baseline-missing": get_args(BaselineMissing),
    "gate-inconclusive": get_args(GateInconclusive),
}


@dataclass(frozen=True)
class PluginConfig:
    """Everything the plugin needs, resolved from all sources."""

    settings: RunSettings
    models: tuple[ModelSpec, ...]
    results_dir: Path
    update_baseline: bool = False
    baseline_missing: BaselineMissing = "warn"
    gate_margin: float = DEFAULT_GATE_MARGIN
    gate_inconclusive: GateInconclusive = "pass"
    report: Path | None = None
    prices: dict[str, Price] = field(default_factory=dict)


def read_pyproject_table(rootdir: Path) -> dict[str, Any]:
    """The ``[tool.promptsuite]`` table of ``rootdir/pyproject.toml`` (empty if absent)."""
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("promptsuite", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.promptsuite] must be a table")
    return table


def resolve(
    lookup: Callable[[str], Any],
    table: Mapping[str, Any],
    rootdir: Path,
    environ: Mapping[str, str] | None = None,
) -> PluginConfig:
    """Resolve options.

    Args:
        lookup: Returns the command-line-or-ini value of an option name, or None.
        table: The ``[tool.promptsuite]`` table.
        rootdir: Relative paths are taken from here.
        environ: Environment (defaults to ``os.environ``).
    """
    env = os.environ if environ is None else environ
    unknown = set(table) - {name.replace("-", "_") for name in OPTIONS} - set(OPTIONS) - {"prices"}
    if unknown:
        known = ", ".join(sorted(OPTIONS))
        raise ConfigError(
            f"[tool.promptsuite]: unknown key(s) {', '.join(sorted(unknown))}; known: {known}"
        )

    def get(name: str) -> Any:
        value = lookup(name)
        if value in (None, "", []):
            value = table.get(name, table.get(name.replace("-", "_")))
        if value in (None, "", []):
            value = env.get("PROMPTSUITE_" + name.replace("-", "_").upper())
        return value

    def integer(name: str, default: int | None, minimum: int) -> int | None:
        value = get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"option {name}: expected an integer, got {value!r}") from None
        if number < minimum:
            raise ConfigError(f"option {name}: expected at least {minimum}, got {number}")
        return number

    def choice(name: str) -> str:
        value = str(get(name) or CHOICES[name][0])
        if value not in CHOICES[name]:
            raise ConfigError(f"option {name}: expected one of {', '.join(CHOICES[name])}")
        return value

    raw_models = get("model")
    if isinstance(raw_models, str):
        raw_models = [raw_models]
    models = tuple(parse_model_spec(m) for m in (raw_models or []))
    grader = get("grader")
    cache_path = Path(get("cache-path") or DEFAULT_CACHE_PATH)
    results_dir = Path(get("results") or "reports")
    settings = RunSettings(
        concurrency=integer("concurrency", DEFAULT_CONCURRENCY, 1) or DEFAULT_CONCURRENCY,
        cache_mode=CacheMode.parse(str(get("cache") or "use")),
        cache_path=cache_path if cache_path.is_absolute() else rootdir / cache_path,
        repeat=integer("repeat", None, 1),
        grader=parse_model_spec(grader) if grader else None,
        reducer=cast(Reducer, choice("reducer")) if get("reducer") else None,
    )

    margin = get("gate-margin")
    try:
        gate_margin = DEFAULT_GATE_MARGIN if margin is None else float(margin)
    except (TypeError, ValueError):
        raise ConfigError(f"option gate-margin: expected a number, got {margin!r}") from None
    if not 0 < gate_margin < 1:
        raise ConfigError(f"option gate-margin: expected a number in (0, 1), got {gate_margin}")
    update = get("update-baseline")
    report = str(get("report") or results_dir / "latest.html")
    report_path = None if report.lower() in {"off", "none", "false", "0"} else Path(report)
    return PluginConfig(
        settings=settings,
        models=models,
        results_dir=results_dir if results_dir.is_absolute() else rootdir / results_dir,
        update_baseline=str(update).lower() in {"1", "true", "yes"},
        baseline_missing=cast(BaselineMissing, choice("baseline-missing")),
        gate_margin=gate_margin,
        gate_inconclusive=cast(GateInconclusive, choice("gate-inconclusive")),
        report=report_path
        if report_path is None or report_path.is_absolute()
        else rootdir / report_path,
        prices=_prices(table.get("prices", {})),
    )


def _prices(table: Any) -> dict[str, Price]:
    """``[tool.promptsuite.prices]``: ``model = [USD per 1M prompt tokens, per 1M completion]``."""
    if not isinstance(table, dict):
        raise ConfigError("[tool.promptsuite.prices] must be a table of model = [input, output]")
    prices = {}
    for model, pair in table.items():
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(x, int | float) and x >= 0 for x in pair)
        ):
            raise ConfigError(
                f"[tool.promptsuite.prices] {model}: expected [USD per 1M prompt tokens, "
                f"USD per 1M completion tokens], got {pair!r}"
            )
        prices[str(model)] = (float(pair[0]), float(pair[1]))
    return prices
