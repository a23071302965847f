"""``module:attribute`` references: how suites, providers and scripts name Python objects.

One reader for the three places that take such a reference (``python`` checks, the
scripted provider's ``script``, the lazy provider registry), so they accept and refuse the
same spellings.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

#: ``package.module:attribute``: dotted identifiers, a colon, one identifier.
REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def is_reference(text: object) -> bool:
    """Whether ``text`` is a well-formed ``module:attribute`` reference."""
    return isinstance(text, str) and REFERENCE.match(text) is not None


def load_reference(reference: str, *, search: Path | None = None) -> Any:
    """Import the module of ``reference`` and return its attribute, or None if it has none.

    Args:
        reference: ``module:attribute``.
        search: A folder put first on ``sys.path`` while the module is imported (a suite's
            own folder, so its helper modules are found); removed again afterwards.

    Raises:
        ValueError: The reference is malformed.
        Exception: Whatever importing the module raised (importing runs user code).
    """
    if not is_reference(reference):
        raise ValueError(f"expected 'module:attribute', got {reference!r}")
    module_name, _, attribute = reference.partition(":")
    entry = str(search) if search is not None else None
    if entry is not None:
        sys.path.insert(0, entry)
    try:
        module = importlib.import_module(module_name)
    finally:
        if entry is not None and entry in sys.path:
            sys.path.remove(entry)
    return getattr(module, attribute, None)
