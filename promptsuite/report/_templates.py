"""The reports' templates: one Jinja2 environment, with the shared number formatters."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from promptsuite import _format


@functools.cache
def environment() -> Any:
    """The environment of ``promptsuite/report/templates``: autoescaped, strict, with the
    formatters of :mod:`promptsuite._format` as filters."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("promptsuite.report", "templates"),
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


def asset(name: str) -> str:
    """The text of a file in the templates folder (CSS, JavaScript)."""
    return (resources.files("promptsuite.report") / "templates" / name).read_text(encoding="utf-8")
