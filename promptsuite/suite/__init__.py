"""Suites: ``suites/*.yaml`` and ``prompts/*.yaml`` files, loaded and validated.

:func:`load_suite` returns a :class:`Suite` whose cases have the suite defaults merged in;
every problem in a file is one located line (``file:line:col: case 'x': field 'y': ...``).
"""

from promptsuite.suite._load import load_prompt, load_suite
from promptsuite.suite._model import Prompt, ResolvedCase, Suite, Turn, Variant
from promptsuite.suite._yaml import MAX_EXPANDED_NODES, MAX_FILE_BYTES, node_at, read_yaml

__all__ = [
    "MAX_EXPANDED_NODES",
    "MAX_FILE_BYTES",
    "Prompt",
    "ResolvedCase",
    "Suite",
    "Turn",
    "Variant",
    "load_prompt",
    "load_suite",
    "node_at",
    "read_yaml",
]
