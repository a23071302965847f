"""Run options from the command line, ini files and ``[tool.promptsuite]``, resolved once.

Precedence, highest first: command line, ``[tool.pytest.ini_options]`` (``promptsuite_*``
keys), ``[tool.promptsuite]`` in ``pyproject.toml``, ``PROMPTSUITE_*`` environment
variables, built-in defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from promptsuite.agreement import DEFAULT_KAPPA_THRESHOLD
from promptsuite.cache import CacheMode
from promptsuite.errors import ConfigError
from promptsuite.gate import DEFAULT_GATE_MARGIN, GateInconclusive
from promptsuite.models import ModelSpec, create_provider, parse_model_spec
from promptsuite.prices import Price
from promptsuite.stats import REDUCERS, Reducer

DEFAULT_CONCURRENCY = 16
DEFAULT_CACHE_PATH = Path(".promptsuite") / "cache.sqlite"

BaselineMissing = Literal["warn", "fail"]
"""What a suite without a baseline does: say so in the summary, or fail its gate."""
JudgeCalibrationMode = Literal["off", "warn", "require"]
"""What a run does with its judges' calibration against people's labels: ignore it; show
it and warn about verdicts resting on an untrusted judge; or report such verdicts as
uncalibrated instead of pass or fail."""


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
        cache_seed: A cache an absent ``cache_path`` starts as a copy of (a shard's own
            cache file starts from the shared one, so recorded answers still hit).
    """

    concurrency: int = DEFAULT_CONCURRENCY
    cache_mode: CacheMode = CacheMode.USE
    cache_path: Path = DEFAULT_CACHE_PATH
    repeat: int | None = None
    grader: ModelSpec | None = None
    reducer: Reducer | None = None
    cache_seed: Path | None = None


@dataclass(frozen=True)
class Shard:
    """One of ``count`` disjoint parts of a run (``--promptsuite-shard index/count``).

    An item belongs to the shard picked by a hash of its id, so every machine makes the
    same split whatever order it collects in, and adding a case never moves another.
    """

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Read ``INDEX/COUNT`` (1-based), e.g. ``2/3``.

        Raises:
            ConfigError: The text is not of that form, or INDEX is not in 1..COUNT.
        """
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        index, count = (int(match[1]), int(match[2])) if match else (0, 0)
        if not 1 <= index <= count:
            raise ConfigError(
                f"option shard: expected INDEX/COUNT with 1 <= INDEX <= COUNT, such as 1/3; "
                f"got {text!r}"
            )
        return cls(index, count)

    @property
    def name(self) -> str:
        """``shard-2-of-3``: the stem of the shard's results, report and cache files."""
        return f"shard-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, item_id: str) -> bool:
        """Whether the item with this id (a pytest node id) runs in this shard."""
        digest = hashlib.sha256(item_id.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


#: Option name -> help text. Each is ``--promptsuite-<name>`` on the command line,
#: ``promptsuite_<name>`` in ini files and ``<name>`` in ``[tool.promptsuite]``.
OPTIONS: dict[str, str] = {
    "model": "run every suite on this model instead of its own (repeatable): what a suite's "
    "models list takes, 'local', 'local:/path.gguf', 'openai:gpt-4o-mini', 'replay:local', or "
    "a YAML mapping such as '{provider: openai, model: llama3.2, base_url: "
    '"http://127.0.0.1:8080/v1", label: llama}\'',
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
    "judge-calibration": "whether verdicts may rest on a model-graded check whose judge "
    "people have not calibrated (promptsuite review, promptsuite calibrate): off (default), "
    "warn (measure the judges against the suites' labels and warn), require (report such "
    "verdicts as uncalibrated, neither pass nor fail)",
    "judge-kappa": "the lower bound of a judge's kappa interval that makes it trusted "
    f"(default {DEFAULT_KAPPA_THRESHOLD})",
    "model-process": "make the openai calls in a helper process (started with pytest when "
    "the cache is off or refreshed, at the first cache miss when it is in use), so the "
    "client's import and CPU run on another core: on (default) or off",
    "shard": "run only shard INDEX/COUNT of the items (e.g. 2/3), split by a hash of their "
    "ids; writes <results>/shard-INDEX-of-COUNT.json and its own cache file; "
    "'promptsuite merge' joins the shards and computes the gates",
}

#: Options that are flags on the command line.
FLAGS = frozenset({"update-baseline"})
#: Options with a fixed set of values, the default first.
CHOICES: dict[str, tuple[str, ...]] = {
    "reducer": REDUCERS,
    "cache": tuple(mode.value for mode in CacheMode),
    "baseline-missing": get_args(BaselineMissing),
    "gate-inconclusive": get_args(GateInconclusive),
    "judge-calibration": get_args(JudgeCalibrationMode),
    "model-process": ("on", "off"),
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
    shard: Shard | None = None
    model_process: bool = True
    judge_calibration: JudgeCalibrationMode = "off"
    judge_kappa: float = DEFAULT_KAPPA_THRESHOLD


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
    if isinstance(raw_models, str | Mapping):
        raw_models = [raw_models]
    models = tuple(model_option(m, "model") for m in (raw_models or []))
    labels = [m.display for m in models]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ConfigError(
            f"option model: two models are both labelled {twice[0]!r}; give each a 'label'"
        )
    grader = get("grader")
    shard_text = get("shard")
    shard = Shard.parse(shard_text) if shard_text else None
    cache_mode = CacheMode.parse(str(get("cache") or "use"))
    cache_path = Path(get("cache-path") or DEFAULT_CACHE_PATH)
    cache_path = cache_path if cache_path.is_absolute() else rootdir / cache_path
    cache_seed = None
    if shard is not None and cache_mode is not CacheMode.REPLAY:
        # Each shard writes its own file (merged later); replay only reads the cassette.
        cache_path, cache_seed = _shard_file(cache_path, shard), cache_path
    results_dir = Path(get("results") or "reports")
    settings = RunSettings(
        concurrency=integer("concurrency", DEFAULT_CONCURRENCY, 1) or DEFAULT_CONCURRENCY,
        cache_mode=cache_mode,
        cache_path=cache_path,
        repeat=integer("repeat", None, 1),
        grader=model_option(grader, "grader") if grader else None,
        reducer=cast(Reducer, choice("reducer")) if get("reducer") else None,
        cache_seed=cache_seed,
    )

    margin = get("gate-margin")
    try:
        gate_margin = DEFAULT_GATE_MARGIN if margin is None else float(margin)
    except (TypeError, ValueError):
        raise ConfigError(f"option gate-margin: expected a number, got {margin!r}") from None
    if not 0 < gate_margin < 1:
        raise ConfigError(f"option gate-margin: expected a number in (0, 1), got {gate_margin}")
    kappa = get("judge-kappa")
    try:
        judge_kappa = DEFAULT_KAPPA_THRESHOLD if kappa is None else float(kappa)
    except (TypeError, ValueError):
        raise ConfigError(f"option judge-kappa: expected a number, got {kappa!r}") from None
    if not -1 <= judge_kappa <= 1:
        raise ConfigError(f"option judge-kappa: expected a kappa in [-1, 1], got {judge_kappa}")
    update = get("update-baseline")
    stem = shard.name if shard else "latest"
    report = str(get("report") or results_dir / f"{stem}.html")
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
        prices=prices_table(table.get("prices", {})),
        shard=shard,
        model_process=choice("model-process") == "on",
        judge_calibration=cast(JudgeCalibrationMode, choice("judge-calibration")),
        judge_kappa=judge_kappa,
    )


_MODEL_FORMS = (
    "expected what a suite's models list takes: 'provider[:model]' such as 'local' or "
    "'openai:gpt-4o-mini', or a YAML mapping such as '{provider: openai, model: llama3.2, "
    'base_url: "http://127.0.0.1:8080/v1", label: llama}\''
)


def add_cache_arguments(parser: argparse.ArgumentParser, runs: str) -> None:
    """``--cache`` (a response cache mode, default ``use``) and ``--cache-path`` for a
    command whose model calls are ``runs`` (for the help text), as every command that
    calls models spells them."""
    parser.add_argument(
        "--cache",
        default=CacheMode.USE.value,
        choices=[mode.value for mode in CacheMode],
        help=f"response cache mode of {runs} (default use)",
    )
    parser.add_argument(
        "--cache-path", default=str(DEFAULT_CACHE_PATH), help=f"cache file ({DEFAULT_CACHE_PATH})"
    )


def model_option(value: Any, option: str = "model") -> ModelSpec:
    """A model named on the command line or in a config file, checked before anything runs.

    Takes what a suite's ``models`` list takes: a name (``local``, ``openai:gpt-4o-mini``),
    a mapping with ``provider``, ``model``, ``label`` and provider options, or that mapping
    written as YAML text (``'{provider: openai, base_url: "http://127.0.0.1:8080/v1"}'``).
    The provider is built once and dropped, so an unknown provider or a bad option is one
    usage error at start-up rather than an error on every item.

    Args:
        value: The option's value.
        option: The option's name, for messages.

    Raises:
        ConfigError: The value is not a model, naming the option and what is expected.
    """
    text = value.strip() if isinstance(value, str) else None
    shown = text if text is not None else value
    if text is not None and text.startswith("{"):
        import yaml

        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "cannot be read"
            mark = getattr(exc, "problem_mark", None)
            where = f" at column {mark.column + 1}" if mark is not None else ""
            raise ConfigError(
                f"option {option} {text!r} is not valid YAML ({problem}{where}); {_MODEL_FORMS}"
            ) from None
    if not isinstance(value, str | Mapping) or not value:
        raise ConfigError(f"option {option}: got {shown!r}; {_MODEL_FORMS}")
    try:
        spec = parse_model_spec(value)
    except ConfigError as exc:
        raise ConfigError(f"option {option} {shown!r}: {exc}; {_MODEL_FORMS}") from None
    try:
        create_provider(spec)
    except ConfigError as exc:
        raise ConfigError(f"option {option} {shown!r}: {exc}") from None
    return spec


def _shard_file(path: Path, shard: Shard) -> Path:
    """``cache.sqlite`` -> ``cache.shard-2-of-3.sqlite``."""
    return path.with_name(f"{path.stem}.{shard.name}{path.suffix}")


def prices_table(table: Any) -> dict[str, Price]:
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
