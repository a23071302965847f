"""Fine-tuning: prove (or refute) the optimizer's advice on the held-out cases.

``promptsuite finetune SUITE`` trains a LoRA on the local model from the train split's
reference answers (torch, transformers and peft on CPU, from the GGUF file itself), writes
it as a GGUF adapter the ``local`` provider runs (``local:+lora:adapter.gguf``), re-tests
the held-out split through the normal runner and compares it, paired, with the best prompt.
Importing this package is cheap: torch and transformers load only when a training starts
(``pip install "promptsuite[finetune]"``; see ``docs/finetune.md``).
"""

from promptsuite.finetune._cli import add_parser
from promptsuite.finetune._compare import compare_arms, per_tag, verdict_of
from promptsuite.finetune._config import TrainConfig
from promptsuite.finetune._data import Rows, chat_rows, subsample
from promptsuite.finetune._deps import FINETUNE_INSTALL
from promptsuite.finetune._gguf import gguf_tensor_name, permute_rows, write_lora_gguf
from promptsuite.finetune._run import (
    RECORD_VERSION,
    FinetuneOptions,
    finetune,
    read_optimization,
    tuned_spec,
)

__all__ = [
    "FINETUNE_INSTALL",
    "RECORD_VERSION",
    "FinetuneOptions",
    "Rows",
    "TrainConfig",
    "add_parser",
    "chat_rows",
    "compare_arms",
    "finetune",
    "gguf_tensor_name",
    "per_tag",
    "permute_rows",
    "read_optimization",
    "subsample",
    "tuned_spec",
    "verdict_of",
    "write_lora_gguf",
]
