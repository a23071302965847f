"""Shared by the end-to-end tests that need the embedded model."""

from __future__ import annotations

import pytest

from promptsuite.errors import MissingDependency


@pytest.fixture(scope="module")
def embedded_model() -> None:
    """Skip, saying why, where the embedded model's runtime or file is not installed."""
    pytest.importorskip("xllamacpp", reason="the embedded model runtime is not installed")
    from promptsuite.models.local import default_model_path

    try:
        default_model_path()
    except MissingDependency as exc:
        pytest.skip(str(exc))
