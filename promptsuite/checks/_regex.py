"""Regular expressions with JavaScript's meaning, run by Python's ``re``.

promptfoo tests ``new RegExp(value).test(output)``; the same pattern means slightly
different things to Python. The differences that change verdicts on model output are
translated, so a pattern copied from a promptfoo config matches what it matched there:

* ``$`` matches only at the very end (Python's also matches before a final newline);
* ``\\d``, ``\\w``, ``\\b`` and their negations are ASCII (Python's are Unicode-aware, so
  ``\\d`` matches "٣");
* named groups are written ``(?<name>...)`` and referenced as ``\\k<name>``;
* ``[^]`` matches any character.

Python's own inline flags (``(?i)``, ``(?s)``, ``(?m)``: with ``(?m)``, ``$`` is a line
end again) keep working, though JavaScript would reject them; ``\\s`` and ``.`` keep
Python's meaning (they differ from JavaScript's only on rare Unicode separators).
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = "A-Za-z0-9_"
_OUTSIDE = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
    "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))",
}
_INSIDE = {"d": "0-9", "w": _WORD}
_LEADING_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


def translate(pattern: str) -> str:
    """The Python pattern that means what ``pattern`` means to JavaScript's ``RegExp``."""
    multiline = any("m" in m.group(1) for m in _LEADING_FLAGS.finditer(pattern))
    out: list[str] = []
    in_class = False
    at = 0
    while at < len(pattern):
        char = pattern[at]
        if char == "\\" and at + 1 < len(pattern):
            escaped = pattern[at + 1]
            if escaped == "k" and pattern.startswith("<", at + 2) and not in_class:
                end = pattern.find(">", at + 3)
                if end > 0:
                    out.append(f"(?P={pattern[at + 3 : end]})")
                    at = end + 1
                    continue
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(escaped, char + escaped))
            at += 2
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
        elif pattern.startswith("[^]", at):
            out.append(r"[\s\S]")
            at += 3
            continue
        elif char == "[":
            in_class = True
            out.append(char)
            # A "]" right after "[" or "[^" is a literal in Python, but closes an (empty)
            # class in JavaScript; the empty class "[]" never matches there.
            if pattern.startswith("]", at + 1):
                out[-1] = "(?!)"
                in_class = False
                at += 2
                continue
        elif char == "$" and not multiline:
            out.append(r"\Z")
        elif pattern.startswith("(?<", at) and pattern[at + 3 : at + 4] not in ("=", "!"):
            out.append("(?P<")
            at += 3
            continue
        else:
            out.append(char)
        at += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_js(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled with JavaScript's meaning (see the module docs).

    Raises:
        re.error: The pattern is not valid.
    """
    return re.compile(translate(pattern))


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, or None when it compiles."""
    try:
        compile_js(pattern)
    except re.error as err:
        return f"invalid regular expression {pattern!r}: {err}"
    return None
