"""The openai provider against a server we did not write: llama.cpp's own HTTP server.

xllamacpp runs llama.cpp's server in this process, listening on a free loopback port, with
the embedded model's GGUF file. The example suites then run through
``--promptsuite-model '{provider: openai, ..., base_url: ...}'`` as a user pointing a run
at a local server would: the same engine and model as the embedded one, behind HTTP.

What must match the embedded model exactly is what does not depend on llama.cpp's prompt
cache: every prompt's token count (the same messages through the same chat template). The
replies may differ in a case or two (which earlier request's prefix a slot reuses changes
the float path; an uncached run of the embedded model shows the same), so the verdicts are
held to the suite gate: no suite may regress beyond its margin.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xllamacpp

from promptsuite.models.local import default_model_path
from tests.example_suites import BASELINES, recorded_verdicts, run_example_suites

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("embedded_model")]


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama.cpp's HTTP server on 127.0.0.1 (port 0: the system picks a free one)."""
    params = xllamacpp.CommonParams()
    params.model.path = str(default_model_path())
    params.model_alias = {"smollm2"}
    params.port = 0
    params.n_parallel = 1
    params.n_ctx = 4096
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.verbosity = 0
    params.ui = False
    server = xllamacpp.Server(params)
    address: str = server.listening_address
    assert address.startswith("http://127.0.0.1:"), address
    yield address
    del server  # xllamacpp stops the server and frees the model with the object


def test_the_example_suites_run_through_llama_cpps_server_as_on_the_embedded_model(
    llama_server: str, tmp_path: Path
) -> None:
    # Labelled `local`, the server's answers are gated against the embedded model's
    # committed baselines.
    model = f'{{provider: openai, model: smollm2, base_url: "{llama_server}/v1", label: local}}'
    result = run_example_suites(
        "--promptsuite-model",
        model,
        "--promptsuite-cache",
        "off",
        "--promptsuite-baseline-missing",
        "fail",
        "--promptsuite-results",
        str(tmp_path),
        "--promptsuite-report",
        "off",
    )
    assert "INTERNALERROR" not in result.stdout, result.stdout[-3000:]
    verdicts = recorded_verdicts()
    run: dict[str, Any] = json.loads((tmp_path / "latest.json").read_text())
    # One request a repeat; a conversation's repeat counts each of its turns' requests.
    calls = sum(r["generation"].get("calls", 1) for c in run["cases"] for r in c["repeats"])
    assert calls >= len(verdicts)
    # A request the server was too slow for is retried, and counted (issue 25).
    failed = run["metadata"].get("failed_calls", 0)
    shown = (
        f"model calls: {calls + failed} ({calls} answered, {failed} failed"
        if failed
        else f"model calls: {calls}, cache hits: 0"
    )
    assert shown in result.stdout, result.stdout[-3000:]
    assert run["metadata"]["model_calls"] == calls + failed

    assert {c["test_id"] for c in run["cases"]} == set(verdicts)
    recorded = recorded_prompt_tokens()
    for case in run["cases"]:
        assert case["error"] is None, case["error"]
        assert case["backend"] == {
            "provider": "openai",
            "model": "smollm2",
            "base_url": f"{llama_server}/v1",
        }
        [repeat] = case["repeats"]
        generation = repeat["generation"]
        transcript = repeat.get("transcript")
        if transcript is None:
            # A single reply: the same messages through the same chat template.
            assert generation["prompt_tokens"] == recorded[case["test_id"]], case["test_id"]
            assert repeat["output"] and generation["completion_tokens"] > 0
        else:
            # A conversation's later prompts hold the server's own earlier replies, so only
            # that every turn was answered (text or a tool call) must hold.
            replies = [m for m in transcript if m["role"] == "assistant"]
            assert replies and all(m.get("content") or m.get("tool_calls") for m in replies)
        assert generation["finish_reason"] in ("stop", "length", "tool_calls")
    gates = run["metadata"]["gates"]
    assert len(gates) == len(list(BASELINES.glob("*.json"))), gates
    assert all(g["verdict"] != "fail" for g in gates), gates
    agree = sum(c["passed"] == verdicts[c["test_id"]] for c in run["cases"])
    assert agree >= len(verdicts) - 3, f"{agree} of {len(verdicts)} verdicts as recorded"


def recorded_prompt_tokens() -> dict[str, int]:
    """``{test id: prompt tokens}`` of the embedded model's calls, from the baselines."""
    tokens = {}
    for path in sorted(BASELINES.glob("*.json")):
        for entry in json.loads(path.read_text())["entries"].values():
            test_id = f"suites/{path.stem}.yaml::{entry['case_id']}[{entry['model']}]"
            tokens[test_id] = entry["repeats"][0]["prompt_tokens"]
    return tokens
