"""The guess from the raw command line that starts the model-call helper at plugin import."""

from __future__ import annotations

import pytest

from promptsuite.cache import CacheMode
from promptsuite.config import RunSettings
from promptsuite.models.openai import CACHE_MODES_STARTING_AT_ONCE, command_line_starts_helper
from promptsuite.plugin import names_suites
from promptsuite.session import RunSession

PYTEST = "/venv/bin/pytest"
PYTHON_M = "/venv/lib/python3.11/site-packages/pytest/__main__.py"


def starts(argv: list[str], environ: dict[str, str]) -> bool:
    """The guess, with the plugin's rule for naming suites."""
    return command_line_starts_helper(argv, environ, names_suites)


@pytest.mark.parametrize(
    "argv",
    [
        [PYTEST, "suites/", "--promptsuite-cache", "off"],
        [PYTEST, "--promptsuite-cache=refresh", "suites"],
        [PYTHON_M, "-q", "-p", "no:cacheprovider", "suites", "--promptsuite-cache", "off"],
        [PYTEST, "checks/echo.yaml", "--promptsuite-cache", "off", "-x", "-k", "one"],
        [PYTEST, "suites/echo.yaml::echo[one-stub]", "--promptsuite-cache", "off"],
        [PYTEST, "suites", "--promptsuite-model-process", "on", "--promptsuite-cache", "off"],
    ],
)
def test_runs_of_suites_that_call_the_model_at_once_start_it(argv: list[str]) -> None:
    assert starts(argv, {}) is True


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        ([PYTEST, "suites"], "the cache is in use: the helper starts at the first miss"),
        ([PYTEST, "suites", "--promptsuite-cache", "replay"], "replay makes no calls"),
        ([PYTEST, "tests/", "--promptsuite-cache", "off"], "no suite named"),
        ([PYTEST, "--promptsuite-cache", "off"], "no path: testpaths decide, later"),
        ([PYTEST, "-k", "suites", "tests", "--promptsuite-cache", "off"], "-k takes a value"),
        ([PYTEST, "suites", "--promptsuite-cache", "off", "-n", "2"], "xdist workers call"),
        ([PYTEST, "suites", "--promptsuite-cache", "off", "-n4"], "xdist, short form"),
        ([PYTEST, "suites", "--promptsuite-cache", "off", "--dist=load"], "xdist"),
        ([PYTEST, "suites", "--promptsuite-cache", "off", "--co"], "collect only"),
        ([PYTEST, "suites", "--promptsuite-cache", "off", "--help"], "help"),
        (
            [PYTEST, "suites", "--promptsuite-cache", "off", "--promptsuite-model-process=off"],
            "the helper is off",
        ),
        (["/usr/bin/my-script", "suites", "--promptsuite-cache", "off"], "not pytest"),
        ([], "no command line"),
    ],
)
def test_other_command_lines_do_not(argv: list[str], why: str) -> None:
    assert starts(argv, {}) is False, why


def test_the_environment_counts() -> None:
    assert starts([PYTEST, "suites"], {"PROMPTSUITE_CACHE": "off"})
    # The command line wins over the variable, as in the plugin's settings.
    argv = [PYTEST, "suites", "--promptsuite-cache", "use"]
    assert not starts(argv, {"PROMPTSUITE_CACHE": "off"})
    addopts = {"PYTEST_ADDOPTS": "--promptsuite-cache off"}
    assert starts([PYTEST, "suites"], addopts)
    assert not starts([PYTEST, "suites"], {"PYTEST_ADDOPTS": "-n 2"})
    assert not starts([PYTEST, "suites"], {"PYTEST_ADDOPTS": "'unclosed"})
    worker = {"PROMPTSUITE_CACHE": "off", "PYTEST_XDIST_WORKER": "gw0"}
    assert not starts([PYTEST, "suites"], worker)


def test_names_suites() -> None:
    assert names_suites(["suites/"]) and names_suites(["a/suites/b"]) and names_suites(["x.yml"])
    assert not names_suites(["tests/", "suites.py", "test_suites/"])


@pytest.mark.parametrize("mode", list(CacheMode))
def test_the_guess_starts_the_helper_in_the_modes_the_session_does(mode: CacheMode) -> None:
    at_once = RunSession.starts_model_process_at_once(RunSettings(cache_mode=mode))
    assert (mode.value in CACHE_MODES_STARTING_AT_ONCE) is at_once
    argv = [PYTEST, "suites", "--promptsuite-cache", mode.value]
    assert starts(argv, {}) is at_once
