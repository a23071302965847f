"""The replay provider: answers only from the response cache.

``replay:local`` (or ``{provider: replay, model: "openai:gpt-4o-mini"}``) presents the
identity of the model it stands for, so it finds the responses that model recorded; any
request the cache cannot answer fails with a CacheMiss instead of calling a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptsuite.errors import CacheMiss
from promptsuite.models._base import GenerateRequest, Generation, ModelSpec, Provider


class ReplayProvider(Provider):
    """Stands in for a recorded model; never calls one."""

    def __init__(self, spec: ModelSpec) -> None:
        from promptsuite.models._registry import create_provider, parse_model_spec

        self.spec = spec
        self.recorded = parse_model_spec(spec.model or "local")
        if spec.options:
            self.recorded = ModelSpec(
                self.recorded.provider, self.recorded.model, spec.label, spec.options
            )
        self._inner = create_provider(self.recorded)
        self.similar_threshold = self._inner.similar_threshold

    def identity(self) -> dict[str, Any]:
        return self._inner.identity()

    async def generate(self, request: GenerateRequest) -> Generation:
        raise CacheMiss(
            f"replay: no recorded response of {self.recorded.display} for this request; "
            "record it by running once with the real model (cache mode 'use')"
        )

    def embedding_identity(self) -> dict[str, Any]:
        return self._inner.embedding_identity()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embeddings of the recorded model itself: they are a function of its weights (the
        local model computes them offline), not a recorded response."""
        return await self._inner.embed(texts)
