"""``promptsuite optimize`` attempts no network: every non-loopback connection is refused.

The command runs in a subprocess under ``tests/offline_guard.py``, once on the scripted
model and once on an OpenAI-compatible server on 127.0.0.1 through the real ``openai``
client (loopback stays allowed; everything else is refused and recorded).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from promptsuite.optimize import OptimizationRun, read_run
from promptsuite.suite import load_prompt, load_suite
from tests.stub_server import Reply, StubServer
from tests.unit.optimize import optimize_scripted
from tests.unit.optimize.optimize_scripted import PROMPT, suite_text

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = '{provider: scripted, model: s, script: "tests.unit.optimize.optimize_scripted:answer"}'


def offline_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # Proxies or a pre-set LiteLLM switch must not be what keeps the run offline.
    for name in ("LITELLM_LOCAL_MODEL_COST_MAP", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    return env


def test_the_guard_refuses_and_records_a_public_connection():
    guard = str(ROOT / "tests" / "offline_guard.py")
    probe = (
        f"import runpy, socket; g = runpy.run_path({guard!r});"
        "socket.socket.connect = g['_guarded'](socket.socket.connect);"
        "s = socket.socket();\n"
        "try:\n    s.connect(('93.184.216.34', 80))\n"
        "except OSError as e:\n    print('refused', e)\n"
        "print(g['attempts'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "refused" in out.stdout
    assert "connect ('93.184.216.34', 80)" in out.stdout


def optimize_offline(
    tmp_path: Path, model: str, *args: str, prompt: str = PROMPT
) -> tuple[OptimizationRun, str]:
    """Run ``promptsuite optimize`` on a suite with ``model`` under the offline guard; check
    that it succeeded and attempted no connection; return its recorded run and its stderr."""
    (tmp_path / "suite.yaml").write_text(
        suite_text().replace("prompt: prompt.yaml\n", f"prompt: prompt.yaml\nmodels: [{model}]\n"),
        encoding="utf-8",
    )
    (tmp_path / "prompt.yaml").write_text(prompt, encoding="utf-8")
    said, run = run_offline(tmp_path, *args)
    return run, said


def run_offline(tmp_path: Path, *args: str) -> tuple[str, OptimizationRun]:
    """``promptsuite optimize suite.yaml --budget 2 ARGS`` in ``tmp_path`` under the offline
    guard; check that it succeeded and attempted no connection; its output and run."""
    attempts = tmp_path / "attempts.txt"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "offline_guard.py"),
            str(attempts),
            "optimize",
            "suite.yaml",
            "--budget",
            "2",
            *args,
        ],
        cwd=tmp_path,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert attempts.read_text(encoding="utf-8") == ""
    [run_file] = (tmp_path / "reports" / "optimize").glob("*/run.json")
    return result.stderr, read_run(run_file)


def test_optimize_runs_without_any_network_attempt(tmp_path):
    run, _ = optimize_offline(tmp_path, SCRIPT, "--optimizer", "copro")
    assert run.candidates[0].source == "baseline"
    assert run.prompt_model_usage.calls > 0


def scripted_reply(index: int, body: dict[str, object]) -> Reply:
    messages = body["messages"]
    assert isinstance(messages, list)
    return Reply(text=optimize_scripted.answer(messages, {}))


def test_optimize_on_an_openai_compatible_endpoint(tmp_path):
    with StubServer(behavior=scripted_reply) as stub:
        model = f"{{provider: openai, model: stub-model, base_url: {stub.base_url!r}}}"
        run, _ = optimize_offline(tmp_path, model)
        requests = stub.stats().total
    assert run.verification is not None
    assert run.task_model_usage.calls + run.verification.model_calls == requests > 0
    assert max(c.val_score for c in run.candidates) > run.candidates[0].val_score


def test_a_prompt_file_in_flow_style_ends_with_a_verdict_and_a_file_beside_it(tmp_path):
    # JSON is YAML, and the optimizer cannot edit it in place: the search must not be lost.
    flow = '{"name": "scripted", "system": "Classify the case.", "user": "Q: {{ q }}"}\n'
    with StubServer(behavior=scripted_reply) as stub:
        model = f"{{provider: openai, model: stub-model, base_url: {stub.base_url!r}}}"
        run, err = optimize_offline(tmp_path, model, "--keep", "1", prompt=flow)
    assert "prompt.yaml was not edited (it is written in flow style" in err
    assert "wrote variant(s) opt-auto-1 to prompt.optimized.yaml instead" in err
    assert "verdict: " in err
    [report] = (tmp_path / "reports" / "optimize").glob("scripted-*/optimization.html")
    assert f"report: {report.relative_to(tmp_path)}" in err
    assert (tmp_path / "prompt.yaml").read_text(encoding="utf-8") == flow
    beside = load_prompt(tmp_path / "prompt.optimized.yaml")
    assert list(beside.variants) == ["default", "opt-auto-1"]
    best = max(run.candidates, key=lambda c: (c.val_score, -c.index))
    assert set(run.test_results) == {0, best.index}
    test_ids = {case_id for case_id, split in run.split.items() if split == "test"}
    assert {s.case_id for s in run.test_results[best.index]} == test_ids
    # The file beside is a prompt file a suite can point at.
    suite = (tmp_path / "suite.yaml").read_text(encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(
        suite.replace(
            "prompt: prompt.yaml", "prompt: {file: prompt.optimized.yaml, variants: [opt-auto-1]}"
        ),
        encoding="utf-8",
    )
    assert load_suite(tmp_path / "suite.yaml").prompt.variants["opt-auto-1"].templates == (
        beside.variants["opt-auto-1"].templates
    )


def test_a_teacher_behind_an_openai_compatible_server_fills_the_gaps(tmp_path):
    """An open-ended suite on the scripted task model; where its samples never pass, the
    teacher (a real openai client against a server on 127.0.0.1) is sampled, and only there;
    its passing replies become references with provenance ``teacher``."""
    from tests.unit.optimize import sampling_scripted as open_ended

    counts = {"always": 4, "never": 8}
    (tmp_path / "suite.yaml").write_text(open_ended.suite_text(counts), encoding="utf-8")
    (tmp_path / "prompt.yaml").write_text(open_ended.PROMPT, encoding="utf-8")
    asked: list[str] = []

    def behavior(index: int, body: dict[str, object]) -> Reply:
        messages = body["messages"]
        assert isinstance(messages, list)
        asked.append(str(messages[-1]["content"]))
        return Reply(text="Thanks, we are on it.")

    with StubServer(behavior=behavior) as stub:
        teacher = f"{{provider: openai, model: teacher-model, base_url: {stub.base_url!r}}}"
        said, run = run_offline(tmp_path, "--samples", "3", "--teacher", teacher)
        requests = stub.stats().total
    sampling = run.sampling
    assert sampling is not None and sampling.teacher == "openai:teacher-model"
    never = [c for c in sampling.cases if c.case_id.startswith("never")]
    assert never and all(c.source == "teacher" for c in never)
    assert all(c.reference == "Thanks, we are on it." for c in never)
    assert all(c.source == "sampled" for c in sampling.cases if c.case_id.startswith("always"))
    # The teacher was asked K times for each case the model never passed, and for no other.
    assert requests == sampling.teacher_usage.calls == 3 * len(never)
    assert sorted(asked) == sorted(f"Message: {c.case_id}" for c in never for _ in range(3))
    assert run.references is not None and run.references.teacher == len(never)
    assert "from the teacher" in said
