"""The reports' templates: one Jinja2 environment, with the shared number formatters."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from promptsuite import _format


@functools.cache
def environment() -> Any:
    """The environment of ``promptsuite/report/templates``: autoescaped, strict, with the
    formatters of :mod:`promptsuite._format` as filters."""
    import jinja2

    env = jinja2.Environment(
        # The folder itself: PackageLoader looks the package up again (~80 ms here).
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        # Compiled templates kept between runs (Jinja2's per-user folder in the temporary
        # directory, keyed by the template's source): compiling the page took ~70 ms of
        # every run. Without a usable folder, templates are compiled each time.
        bytecode_cache=_bytecode_cache(jinja2),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=_format.pct,
        num=_format.num,
        signed=_format.signed,
        usd=_format.usd,
        ms=_format.ms,
        count=_format.count,
        interval=_format.interval,
    )
    return env


def _bytecode_cache(jinja2: Any) -> Any:
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no private folder could be made
        return None


def asset(name: str) -> str:
    """The text of a file in the templates folder (CSS, JavaScript)."""
    return (resources.files("promptsuite.report") / "templates" / name).read_text(encoding="utf-8")
