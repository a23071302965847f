"""Conversations with tool calls, run through pytest against an OpenAI-compatible stub on
127.0.0.1 with the real openai client."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from tests.stub_server import Reply, StubServer, ToolCalls

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

SUITE = """
prompt:
  system: "You help customers with their orders."
  tools:
    - type: function
      function:
        name: lookup_order
        description: Find an order by its number.
        parameters:
          type: object
          properties: {{order_id: {{type: string}}}}
          required: [order_id]
models:
  - {{provider: openai, model: stub-model, label: stub, base_url: "{base_url}", max_retries: 0}}
cases:
  - id: order-status
    vars: {{order: A-17}}
    tool_results: {{lookup_order: {{status: shipped, eta: 2 days}}}}
    turns:
      - user: "Where is my order {{{{ order }}}}?"
        expect:
          - {{type: tool-called, value: lookup_order}}
          - type: tool-args
            value: {{name: lookup_order, arguments: {{order_id: "{{{{ order }}}}"}}}}
          - {{type: tool-args-valid}}
          - {{type: icontains, value: shipped}}
      - user: "Thanks!"
        expect: [{{type: not-tool-called}}, {{type: icontains, value: welcome}}]
    expect:
      - {{type: tool-order, value: [lookup_order]}}
      - {{type: contains-all, value: [shipped, welcome]}}
  - id: fixed-reply-then-fail
    turns:
      - user: "Hello"
      - assistant: "Hello! How can I help?"
      - user: "Is order B-2 delivered?"
        expect: [{{type: icontains, value: delivered}}]
      - user: "Thanks!"
        expect: [{{type: icontains, value: welcome}}]
"""


def agent(index: int, body: dict[str, Any]) -> ToolCalls | Reply:
    """Calls lookup_order for an order question, answers from the tool's result."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        status = json.loads(last["content"])["status"]
        return Reply(text=f"Your order has {status}.")
    text = last["content"]
    if text.startswith("Where is my order"):
        order = text.removeprefix("Where is my order ").rstrip("?")
        return ToolCalls((("lookup_order", json.dumps({"order_id": order})),))
    if text == "Thanks!":
        return Reply(text="You are welcome!")
    return Reply(text="I cannot tell.")


def test_tool_calls_round_trip_and_turns_carry_replies(pytester: pytest.Pytester) -> None:
    with StubServer(behavior=agent, record=True) as stub:
        pytester.makefile(
            ".yaml", **{"suites/orders": textwrap.dedent(SUITE.format(base_url=stub.base_url))}
        )
        result = pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            [
                "*fixed-reply-then-fail*",
                "transcript, up to turn 2, the first that failed:",
                "  [[]user[]] Hello",
                "  [[]assistant[]] I cannot tell.",
                "  [[]assistant[]] Hello! How can I help?",
                "  [[]user[]] Is order B-2 delivered?",
                "  [[]assistant[]] I cannot tell.",
                "failed checks:",
                "  - turn 2: icontains: expected output to contain (any case) 'delivered'*",
            ]
        )
        result.stdout.no_fnmatch_line("*Thanks!*")  # the transcript stops at the failing turn
        received = stub.received()

    first = next(r.body for r in received if r.body["messages"][-1]["content"].startswith("Where"))
    assert first["tools"][0]["function"]["name"] == "lookup_order"
    answered = next(r.body for r in received if r.body["messages"][-1]["role"] == "tool")
    call, result_message = answered["messages"][-2:]
    assert call["tool_calls"][0]["function"] == {
        "name": "lookup_order",
        "arguments": '{"order_id": "A-17"}',
    }
    assert result_message == {
        "role": "tool",
        "content": '{"status": "shipped", "eta": "2 days"}',
        "tool_call_id": "call_0",
    }
    thanks = next(
        r.body
        for r in received
        if r.body["messages"][-1]["content"] == "Thanks!" and len(r.body["messages"]) == 6
    )
    assert [m["role"] for m in thanks["messages"]] == [
        "system", "user", "assistant", "tool", "assistant", "user"
    ]  # fmt: skip
    assert thanks["messages"][4]["content"] == "Your order has shipped."

    results = json.loads((pytester.path / "reports" / "latest.json").read_text())
    case = next(c for c in results["cases"] if c["case_id"] == "order-status")
    [repeat] = case["repeats"]
    assert [c.get("turn") for c in repeat["checks"]] == [1, 1, 1, 1, 2, 2, None, None]
    assert repeat["output"] == "Your order has shipped.\n\nYou are welcome!"
    assert [m["role"] for m in repeat["transcript"]][-3:] == ["assistant", "user", "assistant"]


def test_conversations_are_cached_turn_by_turn(pytester: pytest.Pytester) -> None:
    with StubServer(behavior=agent) as stub:
        pytester.makefile(
            ".yaml", **{"suites/orders": textwrap.dedent(SUITE.format(base_url=stub.base_url))}
        )
        pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider")
        calls = stub.stats().total
        again = pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider")
        again.assert_outcomes(passed=1, failed=1)
        assert stub.stats().total == calls  # every turn, tool round trips too, from the cache
        again.stdout.fnmatch_lines([f"model calls: 0, cache hits: {calls}*"])
