"""The openai provider against a server we did not write: llama.cpp's own HTTP server.

xllamacpp runs llama.cpp's server in this process, listening on a free loopback port, with
the embedded model's GGUF file. The example suites then run through
``--promptsuite-model '{provider: openai, ..., base_url: ...}'`` as a user pointing a run
at a local server would, and must give the embedded model's verdicts: the same engine and
model behind HTTP instead of an in-process call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xllamacpp

from promptsuite.models.local import default_model_path
from tests.example_suites import recorded_verdicts, run_example_suites

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


def test_the_example_suites_through_llama_cpps_server_give_the_embedded_verdicts(
    llama_server: str, tmp_path: Path
) -> None:
    # Labelled `local`, the server's answers are compared with the embedded model's
    # committed baselines, case by case and by each suite gate.
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
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    verdicts = recorded_verdicts()
    passed = sum(verdicts.values())
    suites = len({test_id.split("::")[0] for test_id in verdicts})
    assert f"{passed + suites} passed, {len(verdicts) - passed} xfailed" in result.stdout
    assert f"model calls: {len(verdicts)}, cache hits: 0" in result.stdout

    run: dict[str, Any] = json.loads((tmp_path / "latest.json").read_text())
    assert {c["test_id"]: c["passed"] for c in run["cases"]} == verdicts
    for case in run["cases"]:
        assert case["backend"] == {
            "provider": "openai",
            "model": "smollm2",
            "base_url": f"{llama_server}/v1",
        }
        [repeat] = case["repeats"]
        generation = repeat["generation"]
        assert repeat["output"] and generation["prompt_tokens"] > 0
        assert generation["completion_tokens"] > 0
        assert generation["finish_reason"] in ("stop", "length")
    assert [g["verdict"] for g in run["metadata"]["gates"]] == ["pass"] * suites
