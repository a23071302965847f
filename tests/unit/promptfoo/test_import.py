"""``promptsuite import``: promptfoo configs (our own, modelled on promptfoo's examples/)
become a prompt file and a suite that load, with every unconverted thing listed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptsuite.checks import known_types, split_type
from promptsuite.cli import main
from promptsuite.errors import ConfigError
from promptsuite.promptfoo import import_config, parse_compact
from promptsuite.suite import load_suite

EXAMPLES = Path(__file__).parent / "examples"


def imported(name: str, tmp_path: Path) -> tuple[Any, dict[str, Any], list[str]]:
    source = tmp_path / "src" / name
    shutil.copytree(EXAMPLES / name, source)
    result = import_config(source / "promptfooconfig.yaml", tmp_path / "out")
    assert result.problems == [], result.problems
    suite = load_suite(result.suite_file)
    return suite, yaml.safe_load(result.suite_file.read_text()), result.notes


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.iterdir()))
def test_every_example_imports_into_a_suite_that_loads(name: str, tmp_path: Path) -> None:
    suite, _, notes = imported(name, tmp_path)
    assert suite.cases
    for line in notes:
        assert "\n" not in line and ": " in line


def test_translation(tmp_path: Path) -> None:
    suite, _, notes = imported("translation", tmp_path)
    assert suite.variants == ("p1", "p2")
    assert suite.prompt.variants["p2"].templates[0][1].startswith("You are a formal translator.")
    assert [m.display for m in suite.models] == ["openai:gpt-4o-mini"]
    assert (suite.params.temperature, suite.params.max_tokens) == (0, 100)
    # A var list expands into one case per value; CSV rows become cases with their checks.
    ids = [c.id for c in suite.cases]
    assert ids == ["greeting", "case-2-1", "case-2-2", "case-3", "case-4", "case-5"]
    by_id = {c.id: c for c in suite.cases}
    assert [e.type for e in by_id["greeting"].expect] == [
        "not-icontains", "icontains-any", "levenshtein"]  # fmt: skip
    assert by_id["case-4"].expect[-1].model_dump(exclude_none=True, exclude_defaults=True) == {
        "type": "similar", "value": "Chat", "threshold": 0.8}  # fmt: skip
    assert by_id["case-5"].expect[-1].type == "llm-rubric"
    assert any("anthropic:messages:claude-3-5-sonnet" in n for n in notes)
    assert any("defaultTest.assert[1]" in n and "JavaScript" in n for n in notes)
    assert all(n.startswith(str(tmp_path / "src" / "translation" / "promptfooconfig.yaml") + ":")
               for n in notes)  # fmt: skip


def test_json_output(tmp_path: Path) -> None:
    suite, doc, notes = imported("json-output", tmp_path)
    variant = suite.prompt.variants[suite.variants[0]]
    assert [role for role, _ in variant.templates] == ["system", "user"]
    assert doc["models"] == ["openai:gpt-4o-mini"]
    assert suite.params.seed == 7
    schema_check = doc["defaults"]["expect"][0]
    assert schema_check["type"] == "is-json" and schema_check["value"]["required"] == [
        "name", "product", "quantity"]  # fmt: skip
    assert doc["defaults"]["transform"] == "file://../../src/json-output/postprocess.py"
    first, second = suite.cases
    assert [e.type for e in first.expect] == ["is-json", "contains-json", "python"]
    assert first.expect[-1].value == "file://../../src/json-output/grade.py:quantity_matches"
    assert second.expect[1].weight == 2
    assert second.transform == doc["defaults"]["transform"]  # its own JS transform is noted
    assert any("tests.yaml: [1].options.transform" in n for n in notes)
    assert any("response_format" in n for n in notes)


def test_json_output_runs_its_python_files(tmp_path: Path) -> None:
    """The rewritten file:// paths reach the right files from the suite's folder."""
    import asyncio

    from promptsuite.checks import CheckContext, score
    from promptsuite.models import Generation

    suite, _, _ = imported("json-output", tmp_path)
    case = suite.cases[0]
    output = '```json\n{"name": "Ana", "product": "enamel mug", "quantity": 3}\n```'
    ctx = CheckContext(output, Generation(output), case.vars, (), Path(suite.path).parent)
    outcome = asyncio.run(score(case.expect, ctx, case.threshold, case.transform))
    assert outcome.passed, [r.reason for r in outcome.results]


def test_ollama_rag(tmp_path: Path) -> None:
    suite, doc, notes = imported("ollama-rag", tmp_path)
    assert doc["models"][0] == {
        "provider": "openai",
        "model": "llama3.2",
        "base_url": "http://localhost:11434/v1",
        "label": "llama-local",
    }
    assert doc["models"][1]["api_key_env"] == "OPENROUTER_API_KEY"
    assert len(suite.models) == 2
    assert doc["defaults"]["threshold"] == 0.6
    assert suite.params.temperature == 0.2
    first = suite.cases[0]
    graded = {e.type: e for e in first.expect}
    assert graded["factuality"].grader == "openai:gpt-4o-mini"
    assert graded["model-graded-closedqa"].weight == 2
    assert suite.cases[1].expect[1].grader == "openai:gpt-4o"
    assert suite.cases[2].vars == {"query": "Do you ship abroad?",
                                   "context": "We ship to the EU and the UK."}  # fmt: skip
    assert any("bedrock" in n for n in notes)
    assert any("context-faithfulness" in n for n in notes)


def test_compare_prompts(tmp_path: Path) -> None:
    suite, _, notes = imported("compare-prompts", tmp_path)
    assert suite.variants == ("p1", "p2", "p3")
    assert [c.vars["topic"] for c in suite.cases] == ["bananas", "remote work"]
    types = [e.type for e in suite.cases[0].expect]
    assert types == ["select-best", "assert-set", "word-count"]
    group = suite.cases[0].expect[1]
    assert group.threshold == 0.5 and group.metric == "style"
    assert [c.type for c in group.checks or []] == ["g-eval", "not-icontains", "similar"]
    assert any("assert[2]" in n and "output.length <= 280" in n for n in notes)


def test_every_check_type_is_converted_or_listed(tmp_path: Path) -> None:
    config = yaml.safe_load((EXAMPLES / "every-check" / "promptfooconfig.yaml").read_text())
    suite, _, notes = imported("every-check", tmp_path)
    converted = {c.description: c for c in suite.cases}
    listed = 0
    for i, test in enumerate(config["tests"]):
        wanted = test["assert"][0]["type"]
        base = split_type(wanted)[1]
        case = converted[test["description"]]
        if base in known_types() and base != "cost":
            assert [e.type for e in case.expect] == [wanted], wanted
        else:
            assert case.expect == (), wanted
            assert any(f"tests[{i}].assert[0]" in n for n in notes), wanted
            listed += 1
    assert listed == len(notes)
    assert listed >= 25


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("Paris", {"type": "equals", "value": "Paris"}),
        ("contains:Paris", {"type": "contains", "value": "Paris"}),
        ("not-contains:error", {"type": "not-contains", "value": "error"}),
        ("contains-any:Paris,London", {"type": "contains-any", "value": "Paris,London"}),
        ("similar(0.8):Hello world", {"type": "similar", "value": "Hello world", "threshold": 0.8}),
        ("levenshtein(5):expected text", {"type": "levenshtein", "value": "expected text",
                                          "threshold": 5.0}),
        ("grade:Does not mention being an AI", {"type": "llm-rubric",
                                                "value": "Does not mention being an AI"}),
        ("python:len(output) > 10", {"type": "python", "value": "len(output) > 10"}),
        ("fn:output.includes('x')", {"type": "javascript", "value": "output.includes('x')"}),
        ("is-json", {"type": "equals", "value": "is-json"}),
        ("is-json:", {"type": "is-json"}),
        ("note: bring an umbrella", {"type": "equals", "value": "note: bring an umbrella"}),
    ],
)  # fmt: skip
def test_compact_assertions(text: str, check: dict[str, Any]) -> None:
    assert parse_compact(text) == check


def test_a_config_without_prompts_is_a_located_error(tmp_path: Path) -> None:
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("providers: [openai:gpt-4o-mini]\n")
    with pytest.raises(ConfigError, match="no prompt could be converted"):
        import_config(config, tmp_path / "out")


def test_the_import_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "translation"
    shutil.copytree(EXAMPLES / "translation", source)
    code = main(["import", str(source / "promptfooconfig.yaml"), "--out", str(tmp_path),
                 "--name", "fr"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "suites" / "fr.yaml").is_file() and (
        tmp_path / "prompts" / "fr.yaml"
    ).is_file()
    assert "(6 cases)" in out and "not carried over or changed (2):" in out
    assert main(["validate", str(tmp_path / "suites")]) == 0


def test_the_import_command_reports_a_broken_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("prompts: [\n")
    assert main(["import", str(config)]) == 2
    err = capsys.readouterr().err
    assert "promptfooconfig.yaml:" in err and len(err.strip().splitlines()) == 1


def test_file_vars_are_read_like_promptfoo_reads_them(tmp_path: Path) -> None:
    suite, _, _ = imported("ollama-rag", tmp_path)
    shipping = next(c for c in suite.cases if c.id == "shipping-time")
    assert shipping.vars["context"].startswith("Parcels ship within 2 days")


def test_prompts_as_a_mapping_of_labels(tmp_path: Path) -> None:
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("prompts:\n  'Say {{x}}': plain\n  'Shout {{x}}!': loud\n"
                      "tests: [{vars: {x: hi}}]\n")  # fmt: skip
    result = import_config(config, tmp_path / "out")
    assert load_suite(result.suite_file).variants == ("plain", "loud")


def test_unreadable_referenced_files_are_notes_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"vars": {"x": 1}}\n{not json\n')
    (tmp_path / "bad.yaml").write_text("- vars: [\n")
    (tmp_path / "latin1.csv").write_bytes("x,__expected\ncaf\xe9,contains:a\n".encode("latin-1"))
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(
        "prompts: ['Say {{x}}']\n"
        "tests: [file://bad.jsonl, file://bad.yaml, file://latin1.csv, file://missing.csv]\n"
    )
    result = import_config(config, tmp_path / "out")
    assert result.cases == 1 and result.problems == []
    joined = "\n".join(result.notes)
    assert "bad.jsonl: line[2]: not JSON" in joined
    assert "cannot read" in joined and "bad.yaml" in joined and "latin1.csv" in joined
    assert "no tests file" in joined


def imported_from(tmp_path: Path, config: str, **files: str) -> tuple[Any, dict[str, Any], Any]:
    """Import ``config`` (with ``files`` beside it): the loaded suite, the prompt file's
    data and the import result."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    if "tests:" not in config:  # a case, so that no note is about the tests
        config += "tests: [{vars: {x: 1}}]\n"
    (tmp_path / "promptfooconfig.yaml").write_text(config)
    result = import_config(tmp_path / "promptfooconfig.yaml", tmp_path / "out")
    prompt = yaml.safe_load(result.prompt_file.read_text())
    suite = load_suite(result.suite_file) if not result.problems else None
    return suite, prompt, result


@pytest.mark.parametrize(
    ("config", "base_url", "note"),
    [
        ("{apiHost: gateway.example.com}", "https://gateway.example.com/v1", None),
        ("{apiHost: gw.example.com/, apiBaseUrl: 'https://other.example.com/v2'}",
         "https://gw.example.com/v1",
         "providers[0].config.apiBaseUrl: not used: promptfoo prefers apiHost when both are set"),
        ("{apiBaseUrl: 'http://localhost:4000/openai'}", "http://localhost:4000/openai", None),
        ("{apiHost: 'http://10.0.0.2:8000'}", "http://10.0.0.2:8000/v1",
         "providers[0].config.apiHost: apiHost is a host name, not a URL"),
    ],
)  # fmt: skip
def test_endpoints_are_built_as_promptfoo_builds_them(
    tmp_path: Path, config: str, base_url: str, note: str | None
) -> None:
    text = "prompts: ['Say {{x}}']\nproviders:\n  - id: openai:gpt-4o-mini\n"
    text += f"    config: {config}\n"
    suite, _, result = imported_from(tmp_path, text)
    assert suite.models[0].options_dict["base_url"] == base_url
    if note is None:
        assert result.notes == []
    else:
        [line] = result.notes
        assert line.startswith(f"{tmp_path / 'promptfooconfig.yaml'}:4: {note}")


def test_a_chat_file_valid_only_once_rendered_becomes_messages(tmp_path: Path) -> None:
    chat = "- role: system\n  content: Be {{ tone }}.\n- role: user\n  content: {{ q }}\n"
    suite, prompt, result = imported_from(
        tmp_path, "prompts: [file://chat.yaml]\ntests: [{vars: {q: hi, tone: brief}}]\n",
        **{"chat.yaml": chat},
    )  # fmt: skip
    assert prompt["messages"] == [
        {"role": "system", "content": "Be {{ tone }}."},
        {"role": "user", "content": "{{ q }}"},
    ]
    assert result.notes == [] and suite.cases[0].vars == {"q": "hi", "tone": "brief"}


def test_a_json_chat_value_dumped_as_json_text_stays_text(tmp_path: Path) -> None:
    chat = '[{"role": "user", "content": {{ q | dump }}},\n'
    chat += ' {"role": "assistant", "content": "{{ a | dump }}"}]'
    _, prompt, result = imported_from(tmp_path, "prompts: [file://c.json]\n", **{"c.json": chat})
    # Unquoted, JSON reads the dumped value back into the text itself; quoted, the quotes stay.
    assert prompt["messages"] == [
        {"role": "user", "content": "{{ q }}"},
        {"role": "assistant", "content": "{{ a | tojson }}"},
    ]
    assert len(result.notes) == 1 and "filter 'dump' became Jinja2's tojson" in result.notes[0]


@pytest.mark.parametrize(
    ("chat", "why"),
    [
        ("{% for m in history %}\n- role: {{ m.role }}\n  content: {{ m.content }}\n{% endfor %}",
         "not JSON or YAML"),
        ("- role: '{{ who }}'\n  content: hi\n", "message 1's role is not fixed text"),
        ('[{"role": "user", "content": [{"type": "image_url"}]}]',
         "message 1's content is not text"),
    ],
)  # fmt: skip
def test_a_chat_that_cannot_be_read_as_messages_says_why(
    tmp_path: Path, chat: str, why: str
) -> None:
    _, prompt, result = imported_from(tmp_path, "prompts: [file://c.txt]\n", **{"c.txt": chat})
    assert prompt["user"] == chat.strip("\n")
    [line] = result.notes
    assert line.startswith(f"{tmp_path / 'promptfooconfig.yaml'}:1: prompts[0]: file://c.txt: ")
    assert f"a chat prompt, but {why}" in line and line.endswith("kept as one user message")


def test_nunjucks_filters_are_translated_or_listed_one_located_line_each(tmp_path: Path) -> None:
    config = (
        "prompts:\n"
        "  - 'List: {{ items | join(\", \") | indent }} {{ notes | nl2br }}'\n"
        "  - '{{ text | truncate(20) }} {{ raw | load }}'\n"
        "tests:\n"
        "  - vars: {items: [a], notes: n, text: t, raw: '{}', k: {a: 1}}\n"
        "    assert:\n"
        "      - {type: contains, value: '{{ k | dump(2) }}'}\n"
    )
    _, prompt, result = imported_from(tmp_path, config)
    variants = prompt["variants"]
    assert (
        variants["p1"]["user"] == 'List: {{ items | join(", ") | indent(2) }} {{ notes | nl2br }}'
    )
    suite = yaml.safe_load(result.suite_file.read_text())
    assert suite["cases"][0]["expect"][0]["value"] == "{{ k | tojson(indent=2) }}"
    where = str(tmp_path / "promptfooconfig.yaml")
    assert [line.split(": filter ")[0] for line in result.notes] == [
        f"{where}:2: prompts[0]",
        f"{where}:3: prompts[1]",
        f"{where}:3: prompts[1]",
        f"{where}:7: tests[0].assert[0].value",
    ]
    assert "'nl2br': Nunjucks' nl2br has no Jinja2 filter" in result.notes[0]
    assert "'truncate': Jinja2's truncate counts" in result.notes[1]
    assert "'load': promptfoo's load (JSON.parse) has no Jinja2 filter" in result.notes[2]
    # The filters Jinja2 lacks stay as written, so the suite says where it fails to load.
    assert any("No filter named 'nl2br'" in p for p in result.problems)
