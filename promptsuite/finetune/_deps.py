"""The fine-tuning stack (torch, transformers, peft, gguf), imported only where it is used."""

from __future__ import annotations

import importlib
from typing import Any

from promptsuite.errors import MissingDependency

__all__ = ["FINETUNE_INSTALL", "require"]

FINETUNE_INSTALL = (
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && "
    'pip install "promptsuite[finetune]"'
)


def require(module: str) -> Any:
    """Import ``module`` of the fine-tuning stack.

    Raises:
        MissingDependency: It is not installed; the message ends with the install command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(f"{module} (for promptsuite finetune)", FINETUNE_INSTALL) from exc
