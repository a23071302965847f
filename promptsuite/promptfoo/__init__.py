"""promptfoo compatibility: ``promptsuite import`` turns a promptfoo config into promptsuite
files (a prompt file and a suite), listing everything it could not carry over.

Check semantics themselves live in :mod:`promptsuite.checks`, which reads promptfoo's
spellings directly.
"""

from promptsuite.promptfoo._assertions import AssertionConverter, parse_compact
from promptsuite.promptfoo._import import ImportResult, import_config
from promptsuite.promptfoo._notes import Notes
from promptsuite.promptfoo._prompts import slug

__all__ = [
    "AssertionConverter",
    "ImportResult",
    "Notes",
    "import_config",
    "parse_compact",
    "slug",
]
