"""A conversation's transcript as readable text, for the console and the report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def transcript_line(entry: Mapping[str, Any]) -> str:
    """One message: ``[user] text``, ``[assistant] text -> tool(args) [id]``, ``[tool id] result``.

    Continuation lines of a long message are indented under it.
    """
    role = str(entry.get("role", "?"))
    content = str(entry.get("content") or "").replace("\n", "\n    ")
    if role == "tool":
        return f"[tool {entry.get('tool_call_id', '')}] {content}"
    calls = entry.get("tool_calls") or []
    text = f"[{role}] {content}" if content or not calls else f"[{role}]"
    for call in calls:
        function = call.get("function", {}) if isinstance(call, Mapping) else {}
        text += f" -> {function.get('name')}({function.get('arguments', '')}) [{call.get('id')}]"
    return text


def transcript_text(entries: Iterable[Mapping[str, Any]]) -> str:
    """The messages a conversation's turns produced (not the prompt's own), one a line."""
    return "\n".join(transcript_line(e) for e in entries if e.get("turn") is not None)
