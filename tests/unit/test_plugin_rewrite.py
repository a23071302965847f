"""The plugin takes promptsuite's own modules off pytest's assertion rewriting, through
pytest's private marks where they are as expected, and changes nothing where they are not."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from promptsuite.plugin import _load_unrewritten


def config_with(hook: object) -> pytest.Config:
    return cast(pytest.Config, SimpleNamespace(pluginmanager=SimpleNamespace(rewrite_hook=hook)))


def test_promptsuite_is_unmarked_and_the_memo_cleared() -> None:
    hook = SimpleNamespace(
        _must_rewrite={"promptsuite", "anyio", "conftest_pkg"},
        _marked_for_rewrite_cache={"promptsuite.runner": True, "yaml": False},
    )
    _load_unrewritten(config_with(hook))
    assert hook._must_rewrite == {"anyio", "conftest_pkg"}
    assert hook._marked_for_rewrite_cache == {}


@pytest.mark.parametrize(
    "hook",
    [
        None,  # --assert=plain: no hook
        SimpleNamespace(),  # a pytest whose hook keeps its marks elsewhere
        SimpleNamespace(_must_rewrite=["promptsuite"], _marked_for_rewrite_cache={}),
        SimpleNamespace(_must_rewrite={"promptsuite"}, _marked_for_rewrite_cache=None),
    ],
)
def test_marks_not_found_as_expected_are_left_alone(hook: Any) -> None:
    before = repr(hook)
    _load_unrewritten(config_with(hook))
    assert repr(hook) == before


def test_pytests_hook_has_the_marks_this_relies_on(pytestconfig: pytest.Config) -> None:
    # If pytest renames them, the plugin silently rewrites again: this test says so.
    hook = pytestconfig.pluginmanager.rewrite_hook
    if hook is None:
        pytest.skip("assertion rewriting is off (--assert=plain)")
    assert isinstance(getattr(hook, "_must_rewrite", None), set)
    assert isinstance(getattr(hook, "_marked_for_rewrite_cache", None), dict)
