"""promptfoo's Nunjucks templates as promptsuite's Jinja2 ones.

The two languages share their syntax and most of their filters. A filter Jinja2 has under
another name or with another default is rewritten: ``dump`` is ``tojson`` (reported too:
it writes the same value in another layout), a bare ``indent`` indents by 2 as in Nunjucks
(Jinja2's default is 4). A filter Jinja2 does not have, or has with other rules, is left
as written and reported, one line each.
"""

from __future__ import annotations

import re

from jinja2.filters import FILTERS

#: A template's expressions and statements, where filters are.
_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
#: ``| name`` or ``| name(arguments)`` (one level of brackets inside the arguments); a
#: quoted string is matched whole, so a ``|`` inside one is not a filter.
_FILTER = re.compile(
    r"""(?P<text>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"|\|\s*(?P<name>[A-Za-z_]\w*)(?P<args>\s*\((?:[^()]|\([^()]*\))*\))?"
)
#: promptfoo's own filters (``load`` is its ``JSON.parse``) and Nunjucks ones Jinja2 lacks.
_NO_TWIN = {
    "load": "promptfoo's load (JSON.parse) has no Jinja2 filter",
    "nl2br": "Nunjucks' nl2br has no Jinja2 filter",
}
#: What ``dump`` -> ``tojson`` changes: the layout, never the value.
_DUMP = (
    "filter 'dump' became Jinja2's tojson: the same JSON value, written with its keys "
    "sorted, a space after ',' and ':', and <, >, & and ' escaped (\\u003c...)"
)
#: Filters both have, with rules that differ: the template is kept, the difference named.
_DIFFERENT = {
    "truncate": "Jinja2's truncate counts the '...' in the length and lets the text run 5 "
    "characters over it (Nunjucks cuts at the length, then adds '...')",
    "striptags": "Jinja2's striptags takes no argument (it always joins lines)",
}


def translate_filters(template: str) -> tuple[str, list[str]]:
    """``template`` with its Nunjucks filters written as Jinja2's, and one line per filter
    that could not be (Jinja2 lacks it, or its rules differ)."""
    problems: list[str] = []

    def one_filter(match: re.Match[str]) -> str:
        name, args = match["name"], match["args"]
        if name is None:  # a quoted string
            return match[0]
        bar = match[0][: match.start("name") - match.start()]  # "|" and its spacing
        if name == "dump":
            problems.append(_DUMP)
            indent = (args or "").strip()[1:-1].strip()
            return f"{bar}tojson(indent={indent})" if indent else f"{bar}tojson"
        if name == "indent" and not args:
            return f"{bar}indent(2)"  # Nunjucks' default width; Jinja2's is 4
        if name in _DIFFERENT and (name != "striptags" or args):
            problems.append(f"filter {name!r}: {_DIFFERENT[name]}")
        elif name not in FILTERS:
            why = _NO_TWIN.get(name, f"Jinja2 has no filter {name!r}")
            problems.append(f"filter {name!r}: {why}; rewrite it, the template fails until then")
        return match[0]

    translated = _TAGS.sub(lambda tag: _FILTER.sub(one_filter, tag[0]), template)
    return translated, problems
