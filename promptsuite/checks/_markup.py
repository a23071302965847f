"""Markup checks: the output is (or contains) well-formed XML, or HTML.

XML is parsed by the standard library through ``defusedxml`` (entity declarations and
external resources refused), and a document type with an internal subset is refused, as
promptfoo does. HTML is read with the standard library's
``html.parser``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import quote
from promptsuite.checks._registry import CheckContext, Finding, Problem, check, has_value
from promptsuite.checks._text import split_commas
from promptsuite.errors import CheckError

_DOCTYPE_SUBSET = re.compile(r"<!DOCTYPE[^>\[]*\[", re.I)
_OPENING = re.compile(r"<([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)(?=[\s/>])")


def _parse_xml(text: str) -> Element:
    """The root element of ``text`` as one XML document.

    Raises:
        ParseError: It is not well-formed, or declares an internal document type subset.
    """
    if _DOCTYPE_SUBSET.search(text):
        raise ParseError("documents with a DOCTYPE internal subset are not accepted")
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root: Element = fromstring(text.strip())
    except DefusedXmlException as err:
        raise ParseError(str(err)) from err
    return root


def required_elements(spec: CheckSpec) -> list[str]:
    """The dot paths (``root.child``) the XML must have: ``value`` as
    ``{requiredElements: [...]}``, a list, or a comma-separated string.

    Raises:
        CheckError: The value is none of these.
    """
    value = spec.value
    if not has_value(spec) or value is None:
        return []
    if isinstance(value, dict):
        if set(value) != {"requiredElements"}:
            raise CheckError(
                f"{spec.type} value must be {{requiredElements: [...]}}, got {value!r}"
            )
        value = value["requiredElements"]
    if isinstance(value, str):
        value = split_commas(value)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CheckError(f"{spec.type} required elements must be dot paths, got {value!r}")
    return [v.strip() for v in value]


def _need_elements(spec: CheckSpec) -> Iterator[Problem]:
    try:
        required_elements(spec)
    except CheckError as err:
        yield "value", str(err)


def _has_path(root: Element, path: str) -> bool:
    first, *rest = path.split(".")
    if _local(root.tag) != first:
        return False
    nodes = [root]
    for part in rest:
        nodes = [child for node in nodes for child in node if _local(child.tag) == part]
        if not nodes:
            return False
    return True


def _local(tag: Any) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def _xml_finding(spec: CheckSpec, root: Element, expected: str) -> Finding:
    missing = [p for p in required_elements(spec) if not _has_path(root, p)]
    if missing:
        return Finding.of(False, expected, f"missing element(s) {', '.join(missing)}")
    return Finding.of(True, expected, f"root element <{_local(root.tag)}>")


def _xml_expected(spec: CheckSpec, verb: str) -> str:
    wanted = required_elements(spec)
    return f"{verb} well-formed XML" + (f" with {', '.join(wanted)}" if wanted else "")


@check("is-xml", "value", validate=_need_elements)
def is_xml(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The whole output is one well-formed XML document; ``value: {requiredElements:
    [root.child]}`` also demands those elements (dot paths from the root)."""
    expected = _xml_expected(spec, "be")
    try:
        root = _parse_xml(ctx.output)
    except ParseError as err:
        return Finding.of(False, expected, f"not XML ({err}): {quote(ctx.output)}")
    return _xml_finding(spec, root, expected)


def xml_fragments(text: str) -> Iterator[Element]:
    """Every well-formed XML element in the text, outermost first."""
    at = 0
    while True:
        match = _OPENING.search(text, at)
        if match is None:
            return
        name = match.group(1)
        closing = f"</{name}>"
        end = text.rfind(closing)
        candidates = [end + len(closing)] if end > match.start() else []
        short = text.find("/>", match.end())
        if short >= 0:
            candidates.append(short + 2)
        for stop in candidates:
            try:
                yield _parse_xml(text[match.start() : stop])
            except ParseError:
                continue
            at = stop
            break
        else:
            at = match.end()


@check("contains-xml", "value", validate=_need_elements)
def contains_xml(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """Well-formed XML appears somewhere in the output (with ``requiredElements``, in an
    element that has them, paths starting at that element)."""
    expected = _xml_expected(spec, "contain")
    first: Finding | None = None
    for root in xml_fragments(ctx.output):
        finding = _xml_finding(spec, root, expected)
        if finding.passed:
            return finding
        first = first or finding
    return first or Finding.of(False, expected, f"no XML in {quote(ctx.output)}")


# --- HTML -----------------------------------------------------------------------------------

_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_HTML_TAGS = frozenset(
    [
        "a",
        "abbr",
        "address",
        "article",
        "aside",
        "audio",
        "b",
        "blockquote",
        "body",
        "br",
        "button",
        "canvas",
        "caption",
        "code",
        "col",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "em",
        "embed",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hr",
        "html",
        "i",
        "iframe",
        "img",
        "input",
        "label",
        "legend",
        "li",
        "link",
        "main",
        "meta",
        "nav",
        "ol",
        "optgroup",
        "option",
        "p",
        "pre",
        "section",
        "select",
        "small",
        "source",
        "span",
        "strong",
        "style",
        "sub",
        "summary",
        "sup",
        "svg",
        "table",
        "tbody",
        "td",
        "template",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "time",
        "title",
        "tr",
        "u",
        "ul",
        "video",
    ]
)
# Elements whose end tag HTML lets an author leave out.
_OPTIONAL_END = frozenset(
    [
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "option",
        "html",
        "head",
        "body",
    ]
)


class _HtmlShape(HTMLParser):
    """Records whether the markup is balanced and whether text sits outside every tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.known = False
        self.problem = ""
        self.outside_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.known = self.known or tag in _HTML_TAGS
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.known = self.known or tag in _HTML_TAGS

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        while self.stack and self.stack[-1] != tag and self.stack[-1] in _OPTIONAL_END:
            self.stack.pop()
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f"unexpected </{tag}>"
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.stack and data.strip():
            self.outside_text = True


@check("is-html")
def is_html(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The whole output is HTML: it starts and ends with tags, every element is closed, no
    text lies outside the elements, it uses HTML elements, and it is not an XML document."""
    text = ctx.output.strip()
    expected = "be HTML"
    if not (text.startswith("<") and text.endswith(">")):
        return Finding.of(False, expected, f"does not start and end with a tag: {quote(text)}")
    if text.lower().startswith("<?xml"):
        return Finding.of(False, expected, "it is an XML document")
    shape = _HtmlShape()
    shape.feed(text)
    shape.close()
    open_tags = [t for t in shape.stack if t not in _OPTIONAL_END]
    if shape.problem or open_tags:
        why = shape.problem or f"<{open_tags[-1]}> is not closed"
        return Finding.of(False, expected, why)
    if shape.outside_text:
        return Finding.of(False, expected, "text outside the HTML elements")
    if not shape.known:
        return Finding.of(False, expected, "no HTML elements in it")
    return Finding.of(True, expected, "well-formed HTML")


_INDICATORS = {
    "a paired tag": re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*>.*?</\1\s*>", re.S),
    "a self-closing tag": re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s[^>]*)?/>"),
    "an entity": re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);"),
    "a doctype": re.compile(r"<!DOCTYPE\s+html", re.I),
    "a comment": re.compile(r"<!--.*?-->", re.S),
    "an attribute": re.compile(r"<[a-zA-Z][^>]*\s[a-zA-Z-]+\s*=\s*[\"'][^\"']*[\"'][^>]*>"),
    "a common element": re.compile(
        r"</?(?:html|head|body|div|span|p|a|img|h[1-6]|ul|ol|li|table|tr|td|th|form|input"
        r"|button|script|style|link|meta|br|hr)\b[^>]*>",
        re.I,
    ),
}


@check("contains-html")
def contains_html(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """HTML appears in the output: at least two kinds of evidence (a paired tag, a common
    element, an attribute, an entity, a self-closing tag, a comment, a doctype), so "a < b"
    or an e-mail address does not count."""
    found = [name for name, pattern in _INDICATORS.items() if pattern.search(ctx.output)]
    seen = f"found {', '.join(found)}" if found else f"no HTML in {quote(ctx.output)}"
    return Finding.of(len(found) >= 2, "contain HTML", seen)
