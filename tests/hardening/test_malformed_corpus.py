"""A corpus of malformed suite and prompt files: each gives one-line errors naming
``file:line`` and what is expected, never a traceback, and the other suites still run."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from promptsuite.errors import ConfigError, SuiteLoadError
from promptsuite.suite import MAX_FILE_BYTES, load_suite
from tests.hardening import _soak as soak

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

OK_PROMPT = "prompt: {user: 'hi {{ q }}'}\n"


@dataclass(frozen=True)
class Bad:
    """One malformed suite: its text (or bytes), files beside it, and the error it gives."""

    name: str
    content: str | bytes
    expected: str
    line: int | tuple[int, ...]
    files: dict[str, str] = field(default_factory=dict)


def _deep(levels: int) -> str:
    return OK_PROMPT + "cases: [{id: a, vars: {x: " + "[" * levels + "]" * levels + "}}]\n"


def _bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    return "\n".join(lines) + "\n" + OK_PROMPT + "cases: [{id: a}]\n"


CORPUS = [
    # YAML syntax
    Bad("unclosed-flow", OK_PROMPT + "cases: [{id: a}\n", "YAML error", 3),
    Bad("tab-indent", "prompt:\n\tuser: hi\ncases: [{id: a}]\n", "YAML error", 2),
    Bad("bad-indent", OK_PROMPT + "cases:\n  - id: a\n   vars: {}\n", "YAML error", 4),
    Bad("unclosed-quote", "prompt: {user: 'hi}\ncases: [{id: a}]\n", "YAML error", 3),
    Bad("two-documents", OK_PROMPT + "---\n" + OK_PROMPT, "YAML error", 2),
    Bad("undefined-alias", OK_PROMPT + "cases: [{id: a, vars: *nope}]\n", "undefined alias", 2),
    Bad("unhashable-key", OK_PROMPT + "cases: [{id: a, vars: {? [a] : b}}]\n", "unhashable", 2),
    Bad(
        "python-tag", "prompt: !!python/object/apply:os.system [id]\ncases: [{id: a}]\n", "YAML", 1
    ),
    Bad("duplicate-key", OK_PROMPT + "prompt: {user: x}\ncases: [{id: a}]\n", "duplicate key", 2),
    # shape and types
    Bad("empty", "", "file is empty", 1),
    Bad("only-comment", "# nothing here\n", "file is empty", 1),
    Bad("scalar", "just text\n", "expected a mapping", 1),
    Bad("list-top", "- a\n- b\n", "expected a mapping", 1),
    Bad("no-cases", OK_PROMPT, "required field is missing", 1),
    Bad("no-prompt", "cases: [{id: a}]\n", "required field is missing", 1),
    Bad("cases-string", OK_PROMPT + "cases: abc\n", "valid list", 2),
    Bad("cases-empty", OK_PROMPT + "cases: []\n", "at least 1 item", 2),
    Bad("case-not-mapping", OK_PROMPT + "cases: [a]\n", "valid dictionary", 2),
    Bad("id-int", OK_PROMPT + "cases: [{id: 5}]\n", "valid string", 2),
    Bad("id-date", OK_PROMPT + "cases: [{id: 2024-01-01}]\n", "valid string", 2),
    Bad("id-space", OK_PROMPT + "cases: [{id: 'a b'}]\n", "pattern", 2),
    Bad("vars-list", OK_PROMPT + "cases: [{id: a, vars: [1, 2]}]\n", "valid dictionary", 2),
    Bad("repeat-zero", OK_PROMPT + "cases: [{id: a, repeat: 0}]\n", "greater than or equal", 2),
    Bad("repeat-text", OK_PROMPT + "cases: [{id: a, repeat: many}]\n", "valid integer", 2),
    Bad("temp-hot", OK_PROMPT + "defaults: {temperature: hot}\ncases: [{id: a}]\n", "number", 2),
    Bad("temp-inf", OK_PROMPT + "defaults: {temperature: .inf}\ncases: [{id: a}]\n", "less", 2),
    Bad("threshold-2", OK_PROMPT + "cases: [{id: a, threshold: 2}]\n", "less than", 2),
    Bad(
        "weight-negative",
        OK_PROMPT + "cases: [{id: a, expect: [{type: contains, value: x, weight: -1}]}]\n",
        "greater than or equal",
        2,
    ),
    Bad("prompt-null", "prompt:\ncases: [{id: a}]\n", "valid dictionary", 1),
    Bad("prompt-int", "prompt: 42\ncases: [{id: a}]\n", "valid", 1),
    Bad("user-list", "prompt: {user: [a]}\ncases: [{id: a}]\n", "valid string", 1),
    Bad("models-empty", OK_PROMPT + "models: []\ncases: [{id: a}]\n", "at least one model", 2),
    Bad("models-int", OK_PROMPT + "models: [42]\ncases: [{id: a}]\n", "valid string", 2),
    Bad("models-same-label", OK_PROMPT + "models: [a, a]\ncases: [{id: a}]\n", "labelled", 2),
    Bad("expect-mapping", OK_PROMPT + "cases: [{id: a, expect: {type: x}}]\n", "valid list", 2),
    # unknown keys
    Bad("unknown-top", OK_PROMPT + "casez: []\ncases: [{id: a}]\n", "unknown field 'casez'", 2),
    Bad("unknown-case", OK_PROMPT + "cases: [{id: a, varz: {}}]\n", "unknown field 'varz'", 2),
    Bad(
        "unknown-expect",
        OK_PROMPT + "cases: [{id: a, expect: [{type: contains, valeu: x}]}]\n",
        "unknown field 'valeu'",
        2,
    ),
    Bad(
        "unknown-defaults",
        OK_PROMPT + "defaults: {temprature: 0}\ncases: [{id: a}]\n",
        "unknown field 'temprature'",
        2,
    ),
    Bad(
        "unknown-type",
        OK_PROMPT + "cases: [{id: a, expect: [{type: containz, value: x}]}]\n",
        "did you mean 'contains'",
        2,
    ),
    # duplicate ids
    Bad(
        "duplicate-ids",
        OK_PROMPT + "cases:\n  - {id: a}\n  - {id: b}\n  - {id: a}\n",
        "duplicate case id 'a'",
        5,
    ),
    # checks with bad arguments
    Bad(
        "bad-regex",
        OK_PROMPT + "cases: [{id: a, expect: [{type: regex, value: '(a'}]}]\n",
        "regular expression",
        2,
    ),
    Bad(
        "bad-not-regex",
        OK_PROMPT + "cases: [{id: a, expect: [{type: not-regex, value: '[z'}]}]\n",
        "regular expression",
        2,
    ),
    Bad(
        "bad-schema",
        OK_PROMPT + "cases: [{id: a, expect: [{type: json-schema, value: {type: strung}}]}]\n",
        "invalid JSON Schema",
        2,
    ),
    Bad(
        "bad-is-json-schema",
        OK_PROMPT + "cases: [{id: a, expect: [{type: is-json, schema: {minimum: x}}]}]\n",
        "invalid JSON Schema",
        2,
    ),
    Bad(
        "contains-no-value",
        OK_PROMPT + "cases: [{id: a, expect: [{type: contains}]}]\n",
        "value",
        2,
    ),
    Bad(
        "python-not-ref",
        OK_PROMPT + "cases: [{id: a, expect: [{type: python, value: 'os system'}]}]\n",
        "module:function",
        2,
    ),
    Bad(
        "json-field-no-path",
        OK_PROMPT + "cases: [{id: a, expect: [{type: json-field, value: 1}]}]\n",
        "path",
        2,
    ),
    # prompts and templates
    Bad("missing-prompt", "prompt: ../prompts/nope.yaml\ncases: [{id: a}]\n", "not found", 1),
    Bad(
        "missing-variant",
        "prompt: {file: ../prompts/two.yaml, variants: [c]}\ncases: [{id: a}]\n",
        "variant 'c' is not in",
        1,
        {"prompts/two.yaml": "variants: {a: {user: x}, b: {user: y}}\n"},
    ),
    Bad(
        "bad-prompt-file",
        "prompt: ../prompts/broken.yaml\ncases: [{id: a}]\n",
        "broken.yaml:2:9: field 'system'",
        1,
        {"prompts/broken.yaml": "user: hi\nsystem: [x]\nfoo: 1\n"},
    ),
    Bad("template-syntax", "prompt: {user: '{{ q '}\ncases: [{id: a}]\n", "template syntax", 1),
    Bad("template-tag", "prompt: {user: '{% for %}'}\ncases: [{id: a}]\n", "template syntax", 1),
    Bad(
        "messages-and-user",
        "prompt: {user: a, messages: [{role: user, content: b}]}\ncases: [{id: a}]\n",
        "either 'messages'",
        1,
    ),
    Bad(
        "bad-role", "prompt: {messages: [{role: robot, content: b}]}\ncases: [{id: a}]\n", "role", 1
    ),
    # size, nesting, aliases, encodings
    Bad(
        "huge",
        OK_PROMPT + "cases: [{id: a}]\n#" + "x" * (MAX_FILE_BYTES + 1) + "\n",
        "expected at most",
        1,
    ),
    # PyYAML >= 6.0.4 stops at its own depth cap, on the line where the nesting is (2);
    # older versions overflow the stack, which the loader reports at the top of the file.
    Bad("deep-lists", _deep(5000), "nested too deeply", (1, 2)),
    Bad("self-alias", "a: &a [*a]\n" + OK_PROMPT + "cases: [{id: a}]\n", "nested too deeply", 1),
    Bad("alias-bomb", _bomb(), "alias bomb", 1),
    Bad(
        "latin-1",
        (OK_PROMPT + "cases: [{id: a, vars: {q: 'café'}}]\n").encode("latin-1"),
        "not valid UTF-8",
        2,
    ),
    Bad("utf-16", (OK_PROMPT + "cases: [{id: a}]\n").encode("utf-16"), "not valid UTF-8", 1),
    Bad("nul-byte", (OK_PROMPT + "cases: [{id: a}]\n\x00").encode(), "#x0000", 3),
    Bad("escape-char", (OK_PROMPT + "cases: [{id: a}]\n\x1b[31m\n").encode(), "#x001b", 3),
]

#: Suites that load, then fail at run time on bad input: one error per case, located.
RUNTIME = {
    "undefined-var": (
        "prompt: {user: 'hi {{ nmae }}'}\nmodels: [scripted]\ncases:\n  - id: a\n",
        "suites/undefined-var.yaml:4: case 'a': user message #1: 'nmae' is undefined",
    ),
    "missing-python-module": (
        "prompt: {user: hi}\nmodels: [scripted]\ncases:\n"
        "  - {id: a, expect: [{type: python, value: 'no_such_mod:check'}]}\n",
        "suites/missing-python-module.yaml:4: case 'a': python check 'no_such_mod:check':"
        " cannot import",
    ),
}

GOOD = "prompt: {user: 'say {{ q }}'}\nmodels: [scripted]\ncases:\n" + "".join(
    f"  - {{id: ok{i}, vars: {{q: x}}, expect: [{{type: contains, value: say}}]}}\n"
    for i in range(3)
)


def write_corpus(root: Path) -> None:
    for bad in CORPUS:
        path = root / "suites" / f"{bad.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = bad.content if isinstance(bad.content, bytes) else bad.content.encode()
        path.write_bytes(data)
        for name, text in bad.files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root)
    return root


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 60
    assert len({bad.name for bad in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("bad", CORPUS, ids=[bad.name for bad in CORPUS])
def test_each_malformed_suite_gives_located_one_line_errors(corpus: Path, bad: Bad) -> None:
    shown = f"suites/{bad.name}.yaml"
    with pytest.raises(ConfigError) as excinfo:
        load_suite(corpus / shown, display=shown)
    error = excinfo.value
    lines = [str(e) for e in error.errors] if isinstance(error, SuiteLoadError) else [str(error)]
    assert str(error).splitlines() == lines
    for line in lines:
        assert re.match(rf"{re.escape(shown)}:\d+(:\d+)?: \S", line), line
        assert "Traceback" not in line and "\n" not in line
    assert any(bad.expected in line for line in lines), lines
    expected_lines = bad.line if isinstance(bad.line, tuple) else (bad.line,)
    assert any(line.startswith(f"{shown}:{n}:") for n in expected_lines for line in lines), lines


def test_a_run_over_the_corpus_reports_each_file_once_and_runs_the_good_suite(
    corpus: Path,
) -> None:
    tmp_path = corpus
    (tmp_path / "suites" / "good.yaml").write_text(GOOD, encoding="utf-8")
    for name, (text, _) in RUNTIME.items():
        (tmp_path / "suites" / f"{name}.yaml").write_text(text, encoding="utf-8")
    proc = subprocess.run(
        soak.pytest_command("-rE", "--promptsuite-cache", "off"),
        cwd=tmp_path,
        env=soak.clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output
    assert f"3 passed, {len(CORPUS) + len(RUNTIME)} errors" in output, output[-3000:]
    junit = soak.junit_outcomes(tmp_path / "junit.xml")
    for i in range(3):
        assert junit[f"suites/good.yaml::ok{i}[scripted]"] == ["passed"]
    for bad in CORPUS:
        assert junit[f"suites/{bad.name}.yaml::<load>"] == ["error"], bad.name
        assert re.search(rf"^suites/{re.escape(bad.name)}\.yaml:\d+", output, re.M), bad.name
    for _, expected in RUNTIME.values():
        assert expected in output
