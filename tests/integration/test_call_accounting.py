"""Every request a run sends is counted: conversations with tool round trips against a
server that fails requests mid-conversation, compared with the server's own counts.

The run goes through pytest, the model-call helper and the real ``openai`` client; the
server (tests/stub_server.py with a seeded tests/fault_server.py schedule) counts every
request it received, how it answered it and the usage it billed. What promptsuite reports
(the results file, the terminal summary, the Markdown step summary, the HTML report) must
never be less.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from promptsuite._format import usd
from tests.fault_server import FaultSchedule
from tests.stub_server import Action, Reply, StubServer, ToolCalls

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

CASES = 12
#: Faults that answer at once (no hangs or slow bodies: the test stays short); about a
#: third of the requests fail, some of them for good after the retries.
WEIGHTS = {
    "ok": 0.62,
    "status_429": 0.06,
    "status_500": 0.06,
    "status_503": 0.05,
    "close_mid_body": 0.05,
    "invalid_json": 0.06,
    "empty_choices": 0.05,
    "null_content": 0.05,
}
#: USD per million (prompt, completion) tokens of the stub's model, so the cost is known.
PRICE = (2.0, 8.0)

SUITE = """
prompt:
  system: "You track parcels."
  tools: [{{type: function, function: {{name: track_parcel}}}}]
models:
  - {{provider: openai, model: stub-model, label: stub, base_url: "{base_url}",
     max_retries: 2, backoff_base: 0.01, backoff_max: 0.02}}
defaults:
  max_tokens: 40
cases:
{cases}
"""

CASE = """
  - id: order-{n}
    tool_results: {{track_parcel: {{status: shipped}}}}
    turns:
      - user: "Where is order {n}?"
      - user: "Thanks for order {n}!"
"""


def agent(schedule: FaultSchedule) -> Callable[[int, dict[str, Any]], Action]:
    """The schedule's fault, or for a request it lets through, a tool call for an order
    question and a plain answer after the tool's result or to the thanks."""

    def behavior(index: int, body: dict[str, Any]) -> Action:
        action = schedule(index, body)
        if not isinstance(action, Reply):
            return action
        last = body["messages"][-1]
        if last["role"] == "user" and last["content"].startswith("Where"):
            return ToolCalls((("track_parcel", "{}"),))
        return Reply(text="It has shipped. You are welcome.")

    return behavior


def test_every_request_is_counted_with_its_tokens_and_cost(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = FaultSchedule(seed=3, weights=WEIGHTS)
    cases = "".join(CASE.format(n=n) for n in range(CASES))
    step_summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    with StubServer(behavior=agent(schedule)) as stub:
        pytester.makefile(
            ".yaml",
            **{"suites/orders": textwrap.dedent(SUITE.format(base_url=stub.base_url, cases=cases))},
        )
        pytester.makepyprojecttoml(f"[tool.promptsuite.prices]\nstub = [{PRICE[0]}, {PRICE[1]}]\n")
        result = pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider")
        server = stub.stats()

    answered = server.by_kind.get("reply", 0) + server.by_kind.get("tool_calls", 0)
    failed = server.total - answered
    billed = (server.prompt_tokens, server.completion_tokens)
    data = json.loads((pytester.path / "reports" / "latest.json").read_text())
    metadata = data["metadata"]
    records = [r["generation"] for c in data["cases"] for r in c["repeats"]]

    # The scenario the counts are about: requests failed, and some cases errored after
    # earlier turns or tool round trips had been answered.
    outcomes = result.parseoutcomes()
    assert failed > 0 and outcomes.get("errors", 0) > 0 and outcomes.get("passed", 0) > 0
    errored = [c for c in data["cases"] if c["error"] is not None]
    assert any(c["repeats"][0]["generation"].get("calls", 1) > 0 for c in errored)

    # The run as a whole: every request the server received, each answer's billed tokens.
    assert metadata["model_calls"] == server.total
    assert metadata["failed_calls"] == failed
    # Each errored case gave up on one request; every other failed request was retried.
    assert metadata["retried_calls"] == failed - len(errored)
    assert metadata["cache_hits"] == 0
    assert metadata["tokens"] == sum(billed)
    assert metadata["cost_usd"] == pytest.approx(
        (billed[0] * PRICE[0] + billed[1] * PRICE[1]) / 1e6
    )
    assert sum(r["prompt_tokens"] for r in records) == billed[0]
    assert sum(r["completion_tokens"] for r in records) == billed[1]

    # Each case: the requests of its turns (the server keys them by the user's text).
    sent_by_prompt = schedule.attempts()
    for case in data["cases"]:
        n = case["case_id"].removeprefix("order-")
        sent = sent_by_prompt[f"Where is order {n}?"] + sent_by_prompt.get(
            f"Thanks for order {n}!", 0
        )
        record = case["repeats"][0]["generation"]
        reported = record.get("calls", 1) - record.get("cache_hits", 0) + record.get("failed", 0)
        assert reported == sent, case["case_id"]

    # The same figures where people read them.
    calls = (
        f"model calls: {server.total} ({answered} answered, {failed} failed, "
        f"{metadata['retried_calls']} of them retried), cache hits: 0"
    )
    cost = f"est. cost: {usd(metadata['cost_usd'])}"
    result.stdout.fnmatch_lines([f"{calls}, {cost}; results: *"])
    assert f"{calls}, tokens: {sum(billed):,}, {cost}" in step_summary.read_text()
    report = (pytester.path / "reports" / "latest.html").read_text()
    assert f"{calls};" in report
