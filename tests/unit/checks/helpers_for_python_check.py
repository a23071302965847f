"""A module that ``python`` checks in the unit tests import by name."""

from __future__ import annotations

from typing import Any


def mentions_refund(output: str, context: dict[str, Any]) -> tuple[bool, str]:
    """Pass when the output mentions a refund."""
    found = "refund" in output.lower()
    return found, "mentions a refund" if found else "no refund mentioned"
