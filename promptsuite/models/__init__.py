"""Model providers: one small interface, registered lazily."""

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

__all__ = [
    "Embeddings",
    "GenerateRequest",
    "Generation",
    "GenerationParams",
    "Message",
    "ModelSpec",
    "Provider",
    "ToolCall",
    "create_provider",
    "parse_model_spec",
    "register_provider",
    "tool_calls_of",
]
