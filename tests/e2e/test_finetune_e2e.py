"""``promptsuite finetune`` on the embedded model, offline, tiny and seeded.

Twelve cases whose answer is one code the base model never says (``ZX-7``): a few LoRA steps
must lower the loss, and the GGUF adapter must carry what was learnt into llama.cpp, so the
tuned model answers the held-out cases through the normal runner where the base model fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptsuite.finetune import read_finetune_record

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("embedded_model")]

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["apple", "river", "stone", "cloud", "maple", "tiger"]
WORDS += ["lemon", "piano", "candle", "rocket", "violet", "harbor"]


def write_suite(folder: Path) -> Path:
    (folder / "prompt.yaml").write_text('name: code\nuser: "Code for {{ word }}?"\n')
    cases = [
        {"id": word, "vars": {"word": word}, "expect": [{"type": "equals", "value": "ZX-7"}]}
        for word in WORDS
    ]
    suite = {
        "name": "codes",
        "prompt": "prompt.yaml",
        "defaults": {"max_tokens": 6},
        "cases": cases,
    }
    path = folder / "codes.yaml"
    path.write_text(json.dumps(suite), encoding="utf-8")
    return path


def test_a_tiny_finetune_learns_and_its_adapter_runs_in_llama_cpp(tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    attempts = tmp_path / "attempts.txt"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(ROOT / "tests" / "offline_guard.py"),
        str(attempts),
        "finetune",
        str(suite),
        "--split",
        "0.5,0.25,0.25",
        "--epochs",
        "2",
        "--batch-size",
        "2",
        "--lr",
        "0.003",
        "--max-steps",
        "6",
        "--cache-path",
        str(tmp_path / "cache.sqlite"),
        "--out",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert attempts.read_text(encoding="utf-8") == ""
    assert "step    6/6" in result.stderr
    [record_file] = (tmp_path / "out").glob("codes-*/finetune.json")
    record = read_finetune_record(record_file)
    losses = record.training.losses
    assert len(losses) == 6 and losses[-1] < losses[0] / 2
    assert record.rows.train == 6 and set(record.rows.test_ids).isdisjoint(
        record.rows.train_ids + record.rows.val_ids
    )
    # Through the provider: the tuned model's test outputs are llama.cpp's, with the adapter.
    assert record.retest is not None and record.judgement is not None
    test = record.retest.test
    assert [c.output.strip() for c in test["finetuned"]] == ["ZX-7"] * 3
    assert not any(c.output.strip() == "ZX-7" for c in test["baseline"])
    gain = record.judgement.comparisons.finetuned_vs_baseline
    assert gain.gain == 1.0 and len(gain.fixed) == 3
    # With no optimization run the tuned model is judged against the suite's own prompt:
    # every held-out case fixed, none broken, so the interval is above zero.
    assert record.judgement.comparisons.finetuned_vs_prompt.gain == 1.0
    assert record.judgement.verdict == "confirmed"
    assert record.agreement is not None
    assert record.agreement.cases == 3
    assert record.agreement.identical_stripped == 3
    page = (record_file.parent / "finetune.html").read_text(encoding="utf-8")
    assert "3 of 3 greedy test replies identical" in page
    assert Path(record.adapter.path).is_file()
