"""Loading suites and prompts: resolution of defaults and one-line, located errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptsuite.errors import ConfigError, SuiteLoadError
from promptsuite.suite import load_prompt, load_suite

Write = Callable[[str, str], Path]

PROMPT = """
name: greet
default: formal
variants:
  formal:
    system: "You are polite."
    examples:
      - user: "Hi from Ann"
        assistant: "Good day, Ann."
    user: "Hi from {{ name }}"
  casual:
    user: "yo {{ name }}"
"""


def test_prompt_variants_render_shared_text_first(write: Write) -> None:
    prompt = load_prompt(write("prompts/greet.yaml", PROMPT))
    assert prompt.name == "greet"
    assert prompt.default == "formal"
    formal = prompt.variants["formal"]
    assert [role for role, _ in formal.templates] == ["system", "user", "assistant", "user"]
    assert formal.templates[-1] == ("user", "Hi from {{ name }}")


def test_single_variant_prompt_is_named_default(write: Write) -> None:
    prompt = load_prompt(write("p.yaml", "system: s\nuser: '{{ q }}'\n"))
    assert list(prompt.variants) == ["default"]
    assert prompt.name == "p"


def test_suite_merges_defaults_into_cases(write: Write) -> None:
    write("prompts/greet.yaml", PROMPT)
    path = write(
        "suites/s.yaml",
        """
        prompt: {file: ../prompts/greet.yaml, variants: [formal, casual]}
        models: [scripted, {provider: openai, model: m, label: mini, base_url: "http://x"}]
        defaults:
          temperature: 0.5
          max_tokens: 20
          repeat: 2
          reducer: mean
          tags: [smoke]
          vars: {name: Bob}
          expect: [{type: contains, value: Bob}]
        cases:
          - id: one
            tags: [greet]
            expect: [{type: icontains, value: day, weight: 2}]
          - id: two
            vars: {name: Eve}
            repeat: 5
            threshold: 0.5
            reducer: any-pass
            min_pass_rate: 0.8
        """,
    )
    suite = load_suite(path)
    assert suite.name == "s"
    assert suite.variants == ("formal", "casual")
    assert [m.display for m in suite.models] == ["scripted", "mini"]
    assert suite.models[1].options_dict == {"base_url": "http://x"}
    assert suite.params.temperature == 0.5 and suite.params.max_tokens == 20
    one, two = suite.cases
    assert one.tags == ("smoke", "greet")
    assert [e.type for e in one.expect] == ["contains", "icontains"]
    assert one.repeat == 2 and two.repeat == 5
    assert two.vars == {"name": "Eve"} and one.vars == {"name": "Bob"}
    assert two.threshold == 0.5 and one.threshold is None
    assert one.line == 12
    assert (one.reducer, one.min_pass_rate) == ("mean", None)
    assert (two.reducer, two.min_pass_rate) == ("any-pass", 0.8)


def test_inline_prompt(write: Write) -> None:
    path = write(
        "suites/inline.yaml",
        """
        prompt:
          system: "Answer in one word."
          user: "{{ q }}"
        cases:
          - id: a
            vars: {q: hi}
        """,
    )
    suite = load_suite(path)
    assert suite.variants == ("default",)
    assert [m.display for m in suite.models] == ["local"]


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        load_suite(path)
    error = excinfo.value
    return [str(e) for e in error.errors] if isinstance(error, SuiteLoadError) else [str(error)]


def test_every_error_in_a_file_is_reported_with_line_case_and_field(write: Write) -> None:
    path = write(
        "suites/bad.yaml",
        """
        prompt:
          user: "{{ q }}"
        defaults:
          temperature: hot
        cases:
          - id: ok
            vars: {q: 1}
            expect:
              - {type: contains, valeu: x}
          - id: second
            repeat: 0
        """,
    )
    errors = errors_of(path)
    assert len(errors) == 3, errors
    assert errors[0].startswith(f"{path}:4:16: field 'defaults.temperature': ")
    assert "valid number" in errors[0]
    assert errors[1].startswith(f"{path}:9:26: case 'ok': field 'cases[0].expect[0].valeu': ")
    assert "unknown field 'valeu'; expected one of:" in errors[1] and "value" in errors[1]
    assert errors[2].startswith(f"{path}:11:13: case 'second': field 'cases[1].repeat': ")
    assert all("\n" not in e for e in errors)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prompt: x\ncases: [\n", "YAML error"),
        ("- a\n- b\n", "top level is a list; expected a mapping"),
        ("", "file is empty"),
        ("prompt: {user: hi}\ncases: []\n", "at least 1 item"),
        ("prompt: {user: hi}\ncases:\n  - {id: a}\n  - {id: a}\n", "duplicate case id 'a'"),
        ("prompt: {user: hi}\nprompt: {user: ho}\ncases: [{id: a}]\n", "duplicate key 'prompt'"),
        ("prompt: missing.yaml\ncases: [{id: a}]\n", "prompt file 'missing.yaml' not found"),
        ("prompt: {user: '{{ x'}\ncases: [{id: a}]\n", "template syntax error"),
        ("prompt: {system: s}\ncases: [{id: 'has space'}]\n", "should match pattern"),
        ("prompt: {user: hi}\nmodels: []\ncases: [{id: a}]\n", "at least one model"),
        ("prompt: {user: hi}\nmodels: [a, a]\ncases: [{id: a}]\n", "both labelled 'a'"),
        (
            "prompt: {user: hi}\ncases: [{id: a, expect: [{type: regex, value: '('}]}]\n",
            "invalid regular expression",
        ),
        ("prompt: {file: p.yaml, variants: [nope]}\ncases: [{id: a}]\n", "not found"),
        (
            "prompt: {user: hi}\ndefaults: {reducer: median}\ncases: [{id: a}]\n",
            "'defaults.reducer': Input should be 'all-pass', 'mean' or 'any-pass'",
        ),
        ("prompt: {user: hi}\ncases: [{id: a, min_pass_rate: 2}]\n", "less than or equal to 1"),
    ],
)
def test_bad_suites_give_one_line_located_errors(write: Write, text: str, expected: str) -> None:
    path = write("suites/bad.yaml", text)
    errors = errors_of(path)
    assert any(expected in e for e in errors), errors
    for error in errors:
        assert error.startswith(str(path)), error
        assert "\n" not in error and "Traceback" not in error


def test_unknown_variant_and_bad_prompt_file_are_reported(write: Write) -> None:
    write("prompts/p.yaml", "variants: {a: {user: hi}}\ndefault: b\n")
    path = write("suites/s.yaml", "prompt: ../prompts/p.yaml\ncases: [{id: a}]\n")
    (error,) = errors_of(path)
    assert "in prompt file:" in error and "default variant 'b' is not one of: a" in error
    write("prompts/q.yaml", "variants: {a: {user: hi}}\n")
    path = write(
        "suites/t.yaml", "prompt: {file: ../prompts/q.yaml, variants: [a, zz]}\ncases: [{id: a}]\n"
    )
    (error,) = errors_of(path)
    assert "variant 'zz' is not in ../prompts/q.yaml; known: a" in error


def test_alias_bombs_are_refused(write: Write) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = write("suites/bomb.yaml", "\n".join(lines) + "\nprompt: {user: hi}\ncases: [{id: a}]\n")
    (error,) = errors_of(path)
    assert "alias bomb" in error


def test_wrong_encoding_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("prompt: {user: 'caf\xe9'}\ncases: [{id: a}]\n".encode("latin-1"))
    (error,) = errors_of(path)
    assert "not valid UTF-8" in error


def test_yaml_tags_do_not_construct_objects(write: Write) -> None:
    path = write(
        "suites/evil.yaml",
        "prompt: !!python/object/apply:os.system ['echo pwned']\ncases: [{id: a}]\n",
    )
    (error,) = errors_of(path)
    assert "YAML" in error
