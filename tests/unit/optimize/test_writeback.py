"""Writing candidates back into prompt files: the user's text kept, the variants exact."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from promptsuite.errors import ConfigError
from promptsuite.optimize import Demo
from promptsuite.optimize._shape import candidate_templates, literal, shape_of
from promptsuite.optimize._writeback import (
    NewVariant,
    add_variants,
    unique_names,
    variant_data,
    write_default,
    write_variants,
)
from promptsuite.suite import load_prompt
from promptsuite.template import render, render_messages

SINGLE = """\
# Generated elsewhere; keep this comment.
name: intents
description: Intent labels.
system: |-
  Reply with one label.
  Labels: a, b.
examples:
  - user: "first"   # an inline comment
    assistant: a
user: "{{ query }}"
"""

MULTI = """\
name: greet
default: formal   # the one suites use
variants:
  formal:
    system: Be formal.
    user: "{{ name }}"
  casual:
    user: "Hey {{ name }}"
# trailing comment
"""


def prompt_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prompt.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def a_candidate(path: Path, instruction: str, demos: list[Demo]) -> NewVariant:
    prompt = load_prompt(path)
    shape = shape_of(prompt.variants[prompt.default], where=str(path))
    return NewVariant("opt-1", candidate_templates(shape, instruction, demos), "val 0.9")


def test_single_variant_file_is_nested_keeping_text_and_comments(tmp_path):
    path = prompt_file(tmp_path, SINGLE)
    before = load_prompt(path)
    new = a_candidate(path, "Pick a label.", [Demo(vars={"query": "second"}, output="b")])
    write_variants(path, [new])
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Generated elsewhere; keep this comment.\nname: intents\n")
    assert '    - user: "first"   # an inline comment\n' in text
    after = load_prompt(path)
    assert after.default == before.default == "default"
    assert after.variants["default"].templates == before.variants["default"].templates
    assert after.variants["opt-1"].templates == new.templates
    assert after.variants["opt-1"].description == "val 0.9"


def test_variants_are_appended_and_the_default_kept(tmp_path):
    path = prompt_file(tmp_path, MULTI)
    new = a_candidate(path, "Be very formal.", [])
    write_variants(path, [new])
    text = path.read_text(encoding="utf-8")
    assert "default: formal   # the one suites use\n" in text
    assert text.endswith("# trailing comment\n")
    after = load_prompt(path)
    assert list(after.variants) == ["formal", "casual", "opt-1"]
    assert after.default == "formal"


def test_write_default_changes_only_the_default(tmp_path):
    path = prompt_file(tmp_path, MULTI)
    write_variants(path, [a_candidate(path, "Be very formal.", [])])
    write_default(path, "opt-1")
    assert "default: opt-1   # the one suites use\n" in path.read_text(encoding="utf-8")
    assert load_prompt(path).default == "opt-1"


def test_write_default_on_a_nested_file_without_default_key(tmp_path):
    path = prompt_file(tmp_path, SINGLE)
    write_variants(path, [a_candidate(path, "Pick a label.", [])])
    write_default(path, "opt-1")
    assert load_prompt(path).default == "opt-1"


def test_demo_text_with_jinja_markers_is_written_literally(tmp_path):
    path = prompt_file(tmp_path, SINGLE)
    demo = Demo(
        vars={"query": "what is {{ secret }} and {% endraw %}?"}, output="a {# not a comment #}"
    )
    new = a_candidate(path, "Label it.", [demo])
    write_variants(path, [new])
    variant = load_prompt(path).variants["opt-1"]
    messages = render_messages(variant.templates, {"query": "q"})
    assert messages[-3].content == "what is {{ secret }} and {% endraw %}?"
    assert messages[-2].content == "a {# not a comment #}"


def test_invalid_jinja_instruction_is_kept_as_text(tmp_path):
    # A proposed instruction that is not valid Jinja would otherwise fail every case.
    path = prompt_file(tmp_path, SINGLE)
    write_variants(path, [a_candidate(path, "Use {{ braces", [])])
    messages = render_messages(load_prompt(path).variants["opt-1"].templates, {"query": "q"})
    assert messages[0].content == "Use {{ braces"


def test_a_used_name_is_refused_and_the_file_untouched(tmp_path):
    path = prompt_file(tmp_path, MULTI)
    clash = NewVariant("casual", (("user", "x {{ name }}"),), "d")
    with pytest.raises(ConfigError, match="already used"):
        write_variants(path, [clash])
    assert path.read_text(encoding="utf-8") == MULTI


def test_flow_style_variants_are_refused(tmp_path):
    path = prompt_file(tmp_path, 'variants: {a: {user: "{{ x }}"}}\n')
    with pytest.raises(ConfigError, match="flow-style mapping; the optimizer edits block-style"):
        write_variants(path, [NewVariant("opt-1", (("user", "{{ x }}"),), "d")])


def test_a_single_variant_keeps_its_response_format_when_nested(tmp_path):
    path = prompt_file(tmp_path, SINGLE + "response_format: {type: json_object}\n")
    write_variants(path, [a_candidate(path, "Pick a label.", [])])
    after = load_prompt(path)
    assert after.variants["default"].response_format == {"type": "json_object"}
    assert after.variants["opt-1"].response_format is None


# --- a file that cannot be edited: the variants go to a new file beside it ------------------

FLOW = (
    '{"name": "intents", "system": "Reply with one label.\\nLabels: a, b. ",'
    ' "examples": [{"user": "first", "assistant": "a"}], "user": "{{ query }}",'
    ' "response_format": {"type": "json_object"}}'
)


def assert_written_beside(path: Path, text: str, new: NewVariant, beside: str) -> None:
    """``path`` is as it was; the file beside it loads to its variants and ``new``."""
    __tracebackhide__ = True
    assert path.read_text(encoding="utf-8") == text
    before = load_prompt(path)
    after = load_prompt(path.with_name(beside))
    assert (after.name, after.default) == (before.name, before.default)
    assert list(after.variants) == [*before.variants, new.name]
    for name, variant in before.variants.items():
        got = after.variants[name]
        assert (got.templates, got.tools, got.response_format) == (
            variant.templates,
            variant.tools,
            variant.response_format,
        )
    assert after.variants[new.name].templates == new.templates
    assert after.variants[new.name].description == new.description


def test_a_flow_style_file_gets_its_variants_and_the_new_ones_beside_it(tmp_path):
    path = prompt_file(tmp_path, FLOW)
    new = a_candidate(path, "Pick a label.", [Demo(vars={"query": "second"}, output="b")])
    outcome = add_variants(path, [new])
    assert outcome.path == tmp_path / "prompt.optimized.yaml"
    assert outcome.refused is not None and "written in flow style" in outcome.refused
    assert outcome.failed is None
    assert_written_beside(path, FLOW, new, "prompt.optimized.yaml")
    assert (
        (tmp_path / "prompt.optimized.yaml")
        .read_text(encoding="utf-8")
        .startswith(
            "# Written by promptsuite optimize: the variants of prompt.yaml (left as it was)"
        )
    )


def test_a_read_only_file_is_not_replaced(tmp_path):
    # The atomic rename would replace it, and root may write anything: the mode decides.
    path = prompt_file(tmp_path, MULTI)
    path.chmod(0o444)
    new = a_candidate(path, "Be very formal.", [])
    outcome = add_variants(path, [new])
    assert outcome.refused == "the file is read-only"
    assert_written_beside(path, MULTI, new, "prompt.optimized.yaml")
    assert (path.stat().st_mode & 0o777, outcome.path.stat().st_mode & 0o777) == (0o444, 0o644)
    with pytest.raises(ConfigError, match="read-only"):
        write_default(path, "casual")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # Nesting the top-level variant would put it after the end of the document.
        ('name: p\nsystem: Be brief.\nuser: "{{ x }}"\n...\n', "layout is one the edit"),
        # An explicit key: the appended variant would land inside variant 'a'.
        ('variants:\n  ? a\n  : user: "{{ x }}"\n', "the edited file would not load"),
    ],
    ids=["document-end-marker", "explicit-key"],
)
def test_a_layout_the_edit_does_not_survive_goes_beside(tmp_path, text, why):
    path = prompt_file(tmp_path, text)
    new = NewVariant("opt-1", (("system", "Be exact."), ("user", "{{ x }}")), "val 0.9")
    outcome = add_variants(path, [new])
    assert outcome.refused is not None and why in outcome.refused
    assert_written_beside(path, text, new, "prompt.optimized.yaml")


def test_the_file_beside_takes_a_free_name(tmp_path):
    path = prompt_file(tmp_path, FLOW)
    (tmp_path / "prompt.optimized.yaml").write_text("mine\n", encoding="utf-8")
    (tmp_path / "prompt.optimized-2.yaml").mkdir()
    new = a_candidate(path, "Pick a label.", [])
    assert add_variants(path, [new]).path == tmp_path / "prompt.optimized-3.yaml"
    assert (tmp_path / "prompt.optimized.yaml").read_text(encoding="utf-8") == "mine\n"
    assert_written_beside(path, FLOW, new, "prompt.optimized-3.yaml")


def test_a_file_that_cannot_be_replaced_goes_beside(tmp_path, monkeypatch):
    # A prompt file bind-mounted into a container cannot be renamed over (EBUSY).
    path = prompt_file(tmp_path, MULTI)
    real_replace = os.replace

    def replace(source: str, target: str | Path) -> None:
        if Path(target) == path:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(target))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    new = a_candidate(path, "Be very formal.", [])
    outcome = add_variants(path, [new])
    assert outcome.refused is not None and "Device or resource busy" in outcome.refused
    assert_written_beside(path, MULTI, new, "prompt.optimized.yaml")
    assert {p.name for p in tmp_path.iterdir()} == {"prompt.yaml", "prompt.optimized.yaml"}


def test_a_read_only_folder_leaves_the_variants_in_memory(tmp_path, monkeypatch):
    # A read-only file system refuses the temporary file every write starts with.
    path = prompt_file(tmp_path, MULTI)
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        if Path(str(kwargs.get("dir"))) == tmp_path:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    outcome = add_variants(path, [a_candidate(path, "Be very formal.", [])])
    assert outcome.path is None
    assert outcome.refused is not None and "Read-only file system" in outcome.refused
    assert outcome.failed is not None and "Read-only file system" in outcome.failed
    assert [p.name for p in tmp_path.iterdir()] == ["prompt.yaml"]
    assert path.read_text(encoding="utf-8") == MULTI


def test_irregular_variants_are_written_as_messages():
    variant = NewVariant("v", (("system", "s"), ("assistant", "hi"), ("user", "{{ x }}")), "d")
    assert variant_data(variant)["messages"][1] == {"role": "assistant", "content": "hi"}
    regular = NewVariant("v", (("system", "s"), ("user", "{{ x }}")), "d")
    assert variant_data(regular) == {"description": "d", "system": "s", "user": "{{ x }}"}


def test_unique_names_skip_existing():
    assert unique_names(["opt-gepa-1", "opt-gepa-3"], "opt-gepa", 3) == [
        "opt-gepa-2",
        "opt-gepa-4",
        "opt-gepa-5",
    ]


@pytest.mark.parametrize(
    "text", ["plain", "a {{ b }}", "x {% endraw %} y", "{%- endraw -%}{#", "trailing\n", "\n\n", ""]
)
def test_literal_renders_to_itself(text):
    assert render(literal(text), {}) == text


def test_a_variant_that_does_not_end_with_the_user_message_is_refused(tmp_path):
    path = prompt_file(
        tmp_path,
        "messages:\n  - {role: user, content: hi}\n  - {role: assistant, content: there}\n",
    )
    prompt = load_prompt(path)
    with pytest.raises(ConfigError, match="must end with the user message"):
        shape_of(prompt.variants[prompt.default], where=str(path))
