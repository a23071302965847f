"""The guess from the raw command line that starts the model-call helper at plugin import.

The helper (:mod:`promptsuite.models.openai._process`) spends most of a short run importing
the ``openai`` client, so every moment it starts earlier comes off the run's wall time.
pytest imports the plugin about 0.1 s before any hook sees the parsed options
(``pytest_load_initial_conftests``). When the command line alone makes the start certain
enough (a pytest run naming suites, with ``--promptsuite-cache off`` or ``refresh``, no
xdist, not a collect-only or help run), the plugin starts the helper at import
(:meth:`~promptsuite.models.openai.CallHelper.start_from_command_line`). It is a guess: the
ini file, ``pyproject.toml`` and conftests may still say otherwise, so the plugin's first
hooks decide again on the real options and stop a helper they would not have started
(:meth:`~promptsuite.models.openai.CallHelper.take_guess`). A wrong guess costs a process
that is killed within a fraction of a second, on the other core.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

__all__ = ["CACHE_MODES_STARTING_AT_ONCE", "command_line_starts_helper"]

#: Options after which pytest reads a value that is not a path to collect.
_VALUE_OPTIONS = frozenset(
    {
        "-k", "-m", "-o", "-c", "-p", "-W", "-r", "--rootdir", "--confcutdir", "--basetemp",
        "--ignore", "--ignore-glob", "--deselect", "--junitxml", "--junit-xml", "--maxfail",
        "--tb", "--log-level", "--override-ini", "--inifile", "--config-file",
    }
)  # fmt: skip
#: Runs that make no model calls, or make them elsewhere (xdist workers).
_NO_CALLS = frozenset(
    {
        "-h", "--help", "--version", "-V", "--co", "--collect-only", "--fixtures",
        "--funcargs", "--markers", "--setup-plan", "-n", "--numprocesses", "--dist", "-d",
    }
)  # fmt: skip
#: The cache modes in which every job calls the model, so the helper starts at once
#: (``RunSession.starts_model_process_at_once`` decides it on the parsed settings). Strings:
#: importing ``promptsuite.cache`` here would delay the start by ~20 ms; a test checks that
#: the two agree.
CACHE_MODES_STARTING_AT_ONCE = frozenset({"off", "refresh"})
#: ``sys.argv[0]`` of ``python -m pytest`` ends with these.
_PYTEST_MAIN = ("pytest", "__main__.py")


def command_line_starts_helper(
    argv: Sequence[str],
    environ: Mapping[str, str],
    names_suites: Callable[[Iterable[str]], bool],
) -> bool:
    """Whether ``argv`` (``sys.argv``) is a pytest run that will start the helper at once.

    True only for pytest itself (``pytest ...`` or ``python -m pytest ...``, not an xdist
    worker, not ``pytest.main`` inside another program), naming a suite, with the response
    cache ``off`` or ``refresh`` on the command line (or ``PROMPTSUITE_CACHE``) and the
    helper not switched off. ``PYTEST_ADDOPTS`` counts as part of the command line.

    Args:
        argv: The process's command line.
        environ: The process's environment.
        names_suites: The plugin's rule for whether paths to collect name suites.
    """
    if not argv or "PYTEST_XDIST_WORKER" in environ:
        return False
    program = Path(argv[0])
    is_pytest = program.name in ("pytest", "py.test") or program.parts[-2:] == _PYTEST_MAIN
    if not is_pytest:
        return False
    try:
        tokens = [*shlex.split(environ.get("PYTEST_ADDOPTS", "")), *argv[1:]]
    except ValueError:
        return False
    ours = {"cache": environ.get("PROMPTSUITE_CACHE", ""), "model-process": "on"}
    paths: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        name, equals, value = token.partition("=")
        if name in _NO_CALLS or (token.startswith("-n") and token[2:].isdigit()):
            return False
        if name.startswith("--promptsuite-") and name[len("--promptsuite-") :] in ours:
            if not equals:
                index += 1
                value = tokens[index] if index < len(tokens) else ""
            ours[name[len("--promptsuite-") :]] = value
        elif token in _VALUE_OPTIONS:
            index += 1  # the option's value
        elif not token.startswith("-"):
            paths.append(token)
        index += 1
    return (
        ours["cache"] in CACHE_MODES_STARTING_AT_ONCE
        and ours["model-process"] != "off"
        and names_suites(paths)
    )
