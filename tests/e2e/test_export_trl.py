"""The fine-tuning export loads, unchanged, as a TRL SFT dataset.

TRL's ``SFTTrainer`` reads conversational data as a ``messages`` column of ``{role,
content}`` lists (its "conversational language modeling" format), loaded with the
``datasets`` JSON loader. The export's files go through exactly that: ``load_dataset("json")``,
TRL's own ``is_conversational`` and ``apply_chat_template`` with the embedded model's
tokenizer (read from its GGUF file, no hub).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptsuite.optimize import export_finetune
from promptsuite.suite import load_suite
from tests.unit.optimize.optimize_runs import make_run

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("embedded_model")]

PROMPT = """\
name: route
system: "Reply with the queue code."
examples:
  - user: "Message: my card is lost"
    assistant: "Q-13"
user: "Message: {{ message }}"
"""


def test_the_export_is_a_trl_conversational_dataset(tmp_path: Path) -> None:
    import datasets
    from trl.data_utils import apply_chat_template, is_conversational

    from promptsuite.finetune._train import load_tokenizer
    from promptsuite.models.local import default_model_path

    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    cases = [
        {
            "id": f"c{i:02d}",
            "vars": {"message": f"m{i}"},
            "expect": [{"type": "equals", "value": f"Q-{i}"}],
        }
        for i in range(12)
    ]
    (tmp_path / "suite.yaml").write_text(
        json.dumps({"name": "route", "prompt": "prompt.yaml", "cases": cases}), encoding="utf-8"
    )
    suite = load_suite(tmp_path / "suite.yaml")
    run = make_run(2, 12, lambda k, i, r: False)
    run.split = {
        f"c{i:02d}": "val" if i in (8, 9) else "test" if i > 9 else "train" for i in range(12)
    }
    summary = export_finetune(run, suite, tmp_path / "export")
    assert summary.validation_path is not None
    data = datasets.load_dataset(
        "json", data_files={"train": summary.train_path, "validation": summary.validation_path}
    )
    assert (data["train"].num_rows, data["validation"].num_rows) == (8, 2)
    example = data["train"][0]
    assert is_conversational(example)
    tokenizer = load_tokenizer(default_model_path())
    text = apply_chat_template(example, tokenizer)["text"]
    last = example["messages"][-1]["content"]
    assert text.rstrip().endswith(f"<|im_start|>assistant\n{last}<|im_end|>")
    assert "Reply with the queue code." in text and "Q-13" in text
