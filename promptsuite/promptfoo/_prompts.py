"""promptfoo prompts as the variants of one prompt file.

A prompt is text (inline or from a file; ``---`` separates several in a text file) or a
chat: a JSON or YAML list of ``{role, content}`` messages. promptfoo renders a prompt first
and reads it as a chat afterwards, so a chat file may be valid JSON or YAML only once its
templates are filled in (``content: {{ question }}``, ``"content": {{ question | dump }}``).
Here each template part is held by a placeholder while the list is read, then put back
into the message it belongs to. Nunjucks filters become Jinja2's (:mod:`._nunjucks`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from promptsuite.promptfoo._assertions import FILE
from promptsuite.promptfoo._notes import Notes, Where, globbed, read_all
from promptsuite.promptfoo._nunjucks import translate_filters

_SEPARATOR = re.compile(r"^-{3,}\s*$", re.M)
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")
_TEMPLATE_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_LEADING_STATEMENTS = re.compile(r"^(?:\s*(?:\{%.*?%\}|\{#.*?#\}))+", re.S)
_PLACEHOLDER = "__promptsuite_template_{}__"
_HELD = re.compile(r"__promptsuite_template_(\d+)__")
#: ``{{ x | dump }}``: the whole value of a JSON message, which JSON reads back as text.
_DUMPED = re.compile(r"^\{\{-?(?P<expr>.*?)\|\s*dump\s*(?:\(\s*\d*\s*\))?\s*-?\}\}$", re.S)
_CODE_SUFFIXES = {".py", ".js", ".ts", ".mjs", ".cjs"}


def prompt_variants(raw: Any, config_dir: Path, notes: Notes) -> dict[str, dict[str, Any]]:
    """Variant name -> prompt variant (``user:`` or ``messages:``) of a config's prompts."""
    if isinstance(raw, dict):  # promptfoo's {path-or-text: label} form
        raw = [{"raw": text, "label": label} for text, label in raw.items()]
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    if not items:
        notes.add(("prompts",), "the config has no prompts")
    variants: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(items):
        where: Where = ("prompts", i) if isinstance(raw, list) else ("prompts",)
        label = None
        if isinstance(item, dict):
            label = item.get("label") or item.get("id")
            text = item.get("raw") or item.get("id")
        else:
            text = item
        if not isinstance(text, str):
            notes.add(where, "a prompt must be text or file://; left out")
            continue
        for j, variant in enumerate(_prompt_texts(text, config_dir, where, notes)):
            name = f"p{len(variants) + 1}"
            if label:
                name = slug(str(label), name) + (f"-{j + 1}" if j else "")
            variants[name] = variant
    return variants


def slug(text: str, fallback: str) -> str:
    """An identifier made of ``text`` (``Translate to French`` -> ``translate-to-french``)."""
    cleaned = _SLUG.sub("-", text.strip().lower()).strip("-._")[:60]
    return cleaned or fallback


def prompt_document(name: str, variants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The prompt file: one variant at the top level, or several under ``variants``."""
    if len(variants) == 1:
        return {"name": name, **next(iter(variants.values()))}
    return {"name": name, "default": next(iter(variants)), "variants": variants}


def _prompt_texts(text: str, config_dir: Path, where: Where, notes: Notes) -> list[dict[str, Any]]:
    if not text.startswith(FILE):
        return [variant(text, where, notes)]
    paths = []
    for path in globbed(config_dir, text[len(FILE) :]):
        if path.suffix in _CODE_SUFFIXES or ":" in path.name:
            notes.add(where, f"{text}: prompt functions are not converted; left out")
        else:
            paths.append(path)
    found: list[dict[str, Any]] = []
    for path, content in read_all(paths, f"{text}: no file at", where, notes):
        if path.suffix in {".json", ".yaml", ".yml"}:
            yaml_file = path.suffix != ".json"
            found.append(variant(content, where, notes, source=text, yaml_file=yaml_file))
        else:
            found.extend(
                variant(part.strip("\n"), where, notes, source=text)
                for part in _SEPARATOR.split(content)
                if part.strip()
            )
    return found


def variant(
    text: str, where: Where, notes: Notes, source: str | None = None, yaml_file: bool = False
) -> dict[str, Any]:
    """A prompt's text as a variant: a chat as its messages, else one user turn.

    ``source`` (the ``file://`` reference) starts each note about the text; a YAML file
    (``yaml_file``) is a chat whenever it reads as a message list (promptfoo turns a YAML
    file that reads into JSON before it renders it).
    """
    parts: list[str] = []

    def hold(match: re.Match[str]) -> str:
        parts.append(match[0])
        return _PLACEHOLDER.format(len(parts) - 1)

    held = _TEMPLATE_PART.sub(hold, text)
    shown = f"{source}: " if source else ""
    # Statements and comments render to nothing: what follows them starts the prompt.
    rendered_start = _LEADING_STATEMENTS.sub("", text).lstrip()
    looks_like_chat = yaml_file or rendered_start.startswith(("- role:", "["))
    messages = _chat(held, parts, where, notes, shown) if looks_like_chat else None
    if messages is None:
        return {"user": _jinja(text, where, notes, shown)}
    for message in messages:
        message["content"] = _jinja(message["content"], where, notes, shown)
    return {"messages": messages}


def _chat(
    held: str, parts: list[str], where: Where, notes: Notes, shown: str
) -> list[dict[str, str]] | None:
    """The messages of a prompt that looks like a chat (promptfoo reads a rendered prompt
    as one when it starts ``- role:`` or is a JSON list), its template parts back in place;
    None, with a note when it names roles, when it is not a list of messages."""
    stripped = held.strip()
    problem: str | None
    try:
        data = yaml.safe_load(stripped)
    except yaml.YAMLError as err:
        data, problem = None, f"not JSON or YAML ({' '.join(str(err).split())[:120]})"
    else:
        problem = _not_messages(data)
    if problem is not None:
        if "role" in stripped:  # meant as a chat: say why it is not read as one
            notes.add(where, f"{shown}a chat prompt, but {problem}; kept as one user message")
        return None
    return [
        {"role": m["role"], "content": _restore(m["content"], held, parts)}
        for m in data
        if isinstance(m, dict)
    ]


def _not_messages(data: Any) -> str | None:
    """Why ``data`` is not a list of ``{role, content}`` messages with text in both; None
    when it is one."""
    if not isinstance(data, list) or not data:
        return "not a list of messages"
    for n, message in enumerate(data):
        if not isinstance(message, dict) or not {"role", "content"} <= set(message):
            return f"message {n + 1} is not a {{role, content}} mapping"
        if not isinstance(message["role"], str) or _HELD.search(message["role"]):
            return f"message {n + 1}'s role is not fixed text (roles made by templates)"
        if not isinstance(message["content"], str):
            return f"message {n + 1}'s content is not text (content parts such as images)"
    return None


def _restore(content: str, held: str, parts: list[str]) -> str:
    """A message's content with its template parts back in place. A JSON value that is
    only ``{{ x | dump }}`` is JSON-read back into text by promptfoo: it becomes ``{{ x }}``."""
    whole = _HELD.fullmatch(content)
    if whole is not None:
        part = parts[int(whole[1])]
        dumped = _DUMPED.match(part)
        quoted = re.search(rf"[\"']{re.escape(content)}[\"']", held) is not None
        if dumped is not None and not quoted:
            return "{{ " + dumped["expr"].strip() + " }}"
    return _HELD.sub(lambda match: parts[int(match[1])], content)


def _jinja(template: str, where: Where, notes: Notes, shown: str) -> str:
    """``template`` with its Nunjucks filters as Jinja2's, noting those that are not."""
    translated, problems = translate_filters(template)
    for problem in problems:
        notes.add(where, f"{shown}{problem}")
    return translated
