"""Model providers: one small interface, registered lazily.

:data:`call_helper` starts, binds and stops the process that makes the ``openai``
provider's calls during a run (see :mod:`promptsuite.models.openai`).
"""

from promptsuite.models._base import (
    Embeddings,
    GenerateRequest,
    Generation,
    GenerationParams,
    Message,
    ModelSpec,
    Provider,
    ToolCall,
    tool_calls_of,
)
from promptsuite.models._registry import create_provider, parse_model_spec, register_provider
from promptsuite.models.openai import CallHelper, call_helper

__all__ = [
    "CallHelper",
    "Embeddings",
    "GenerateRequest",
    "Generation",
    "GenerationParams",
    "Message",
    "ModelSpec",
    "Provider",
    "ToolCall",
    "call_helper",
    "create_provider",
    "parse_model_spec",
    "register_provider",
    "tool_calls_of",
]
