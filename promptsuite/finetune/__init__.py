"""Fine-tuning: prove (or refute) the optimizer's advice on the held-out cases.

``promptsuite finetune SUITE`` trains a LoRA on the local model from the train split's
reference answers (torch, transformers and peft on CPU, from the GGUF file itself), writes
it as a GGUF adapter the ``local`` provider runs (``local:+lora:adapter.gguf``), re-tests
the held-out split through the normal runner and compares it, paired, with the best prompt.
Everything is recorded in one versioned record (:class:`FinetuneRecord`, ``finetune.json``;
:func:`read_finetune_record` reads it back) and drawn as a page
(:func:`render_finetune_report`). Importing this package is cheap: torch and transformers
load only when a training starts (``pip install "promptsuite[finetune]"``; see
``docs/finetune.md``).
"""

from promptsuite.finetune._compare import compare_arms, per_tag, verdict_of
from promptsuite.finetune._config import EPOCH_CAP, EPOCHS_UNVALIDATED, TrainConfig
from promptsuite.finetune._data import Rows, chat_rows, subsample
from promptsuite.finetune._deps import FINETUNE_INSTALL
from promptsuite.finetune._gguf import gguf_tensor_name, permute_rows, write_lora_gguf
from promptsuite.finetune._page import render_finetune_report, write_finetune_report
from promptsuite.finetune._record import (
    RECORD_VERSION,
    AdapterFile,
    AdviceFinding,
    Agreement,
    Arm,
    ArmComparison,
    ArmName,
    Comparisons,
    CurveRun,
    Difference,
    FinetuneRecord,
    Judgement,
    ModelFile,
    PromptTokens,
    RetestCounts,
    RetestedArms,
    RowCounts,
    TagRow,
    Training,
    read_finetune_record,
)
from promptsuite.finetune._run import FinetuneOptions, finetune, tuned_spec

__all__ = [
    "EPOCHS_UNVALIDATED",
    "EPOCH_CAP",
    "FINETUNE_INSTALL",
    "RECORD_VERSION",
    "AdapterFile",
    "AdviceFinding",
    "Agreement",
    "Arm",
    "ArmComparison",
    "ArmName",
    "Comparisons",
    "CurveRun",
    "Difference",
    "FinetuneOptions",
    "FinetuneRecord",
    "Judgement",
    "ModelFile",
    "PromptTokens",
    "RetestCounts",
    "RetestedArms",
    "RowCounts",
    "Rows",
    "TagRow",
    "TrainConfig",
    "Training",
    "chat_rows",
    "compare_arms",
    "finetune",
    "gguf_tensor_name",
    "per_tag",
    "permute_rows",
    "read_finetune_record",
    "render_finetune_report",
    "subsample",
    "tuned_spec",
    "verdict_of",
    "write_finetune_report",
    "write_lora_gguf",
]
