"""What the embedded model does with tools: xllamacpp's own `tools`, then promptsuite's way.

1. Sends the same chat completion straight to xllamacpp with and without OpenAI ``tools``
   (``tool_choice`` auto and required) and prints whether any reply carries
   ``tool_calls`` and whether the text changed (with SmolLM2's template it does neither,
   which is why the local provider constrains replies to a tool-call JSON instead).
2. Runs ``suites/order_support.yaml`` through the real plugin, cache off, and prints how
   often each check metric passed (calls-tool, right-order, valid-args, uses-result...).

Usage::

    python benchmarks/local_tools.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYSTEM = (
    "You are the support assistant of an online shop. When a customer asks about an order, "
    "call lookup_order with the order number."
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order by its number.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]
QUESTIONS = ["Where is my order A-1042?", "What is the status of order B-77?", "Hello!"]


def native_tools() -> None:
    from promptsuite.models import ModelSpec
    from promptsuite.models.local import LocalSettings, get_server

    server = get_server(LocalSettings.from_spec(ModelSpec("local")))
    for question in QUESTIONS:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        base = {"messages": messages, "max_tokens": 48, "temperature": 0, "seed": 1}
        plain = server.handle_chat_completions(base)["choices"][0]["message"]
        for choice in ("auto", "required"):
            body = {**base, "tools": TOOLS, "tool_choice": choice}
            message = server.handle_chat_completions(body)["choices"][0]["message"]
            print(
                f"xllamacpp tools, tool_choice={choice}, {question!r}: "
                f"tool_calls={bool(message.get('tool_calls'))}, "
                f"same text as without tools={message.get('content') == plain.get('content')}"
            )


def suite_metrics() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites/order_support.yaml",
                "-q",
                "-p",
                "no:cacheprovider",
                "--promptsuite-cache",
                "off",
                "--promptsuite-results",
                str(out),
                "--promptsuite-report",
                str(out / "report.html"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        latest = out / "latest.json"
        if not latest.exists():
            raise RuntimeError(process.stdout[-3000:] + process.stderr[-2000:])
        cases: list[dict[str, Any]] = json.loads(latest.read_text())["cases"]
    metrics: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        for repeat in case["repeats"]:
            for check in repeat["checks"]:
                metrics[check["metric"] or check["type"]].append(check["passed"])
    passed = sum(c["passed"] for c in cases)
    print(f"order_support on the embedded model: {passed}/{len(cases)} cases passed")
    for metric, results in sorted(metrics.items()):
        print(f"  {metric:<18} {sum(results)}/{len(results)} checks passed")


if __name__ == "__main__":
    native_tools()
    suite_metrics()
