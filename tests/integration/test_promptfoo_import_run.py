"""A promptfoo config, imported with ``promptsuite import``, runs under ``pytest suites/``
with the verdicts promptfoo's rules give (scripted model, real plugin), and sends the
requests promptfoo would send (the stub server, over HTTPS where promptfoo would use it)."""

from __future__ import annotations

import ssl
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.stub_server import StubServer
from tests.system_tools import debian_tool

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

CONFIG = """
description: capitals
prompts:
  - "What is the capital of {{country}}?"
providers:
  - echo
defaultTest:
  assert:
    - type: not-is-refusal
tests:
  - description: france
    vars: {country: France}
    assert:
      - type: icontains-any
        value: france, paris
      - type: word-count
        value: {min: 3, max: 12}
      - type: assert-set
        threshold: 0.5
        assert:
          - {type: contains, value: capital}
          - {type: starts-with, value: Paris}
  - description: weighted-threshold
    vars: {country: Peru}
    threshold: 0.6
    assert:
      - {type: equals, value: Lima, weight: 2}
      - {type: contains, value: Peru, weight: 1}
  - description: strict-equals
    vars: {country: Chile}
    assert:
      - {type: equals, value: "What is the capital of Chile? "}
"""


def test_an_imported_config_runs_with_promptfoo_verdicts(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", promptfooconfig=textwrap.dedent(CONFIG))
    imported = pytester.run("promptsuite", "import", "promptfooconfig.yaml", "--name", "caps")
    assert imported.ret == 0, imported.stderr.str()
    result = pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", "-rA")
    # The echo model repeats the prompt: france passes (its set needs 1 of 2);
    # weighted-threshold scores (0 * 2 + 1 + 1) / 4 = 0.5 < 0.6 (the default not-is-refusal
    # counts too); equals is exact, and the output has no trailing space.
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*PASSED suites/caps.yaml::france*",
            "*FAILED suites/caps.yaml::weighted-threshold*",
            "*FAILED suites/caps.yaml::strict-equals*",
        ]
    )


GATEWAY_CONFIG = """
description: gateway
prompts:
  - id: file://prompts/chat.yaml
    label: yaml-chat
  - id: file://prompts/chat.json
    label: json-chat
  - id: "Facts: {{ facts | dump }}\\nQuestion: {{ question }}"
    label: text
providers:
  - id: openai:chat:stub-model
    config:
      apiHost: "127.0.0.1:{port}"
      apiBaseUrl: http://127.0.0.1:9/not-this-one
tests:
  - description: sum
    vars: {question: "What is 2 + 2?", facts: {unit: apples, count: 2}}
    assert:
      - type: icontains
        value: "{{ question | lower }}"
"""
#: A YAML chat that is YAML only once rendered (promptfoo renders it, then reads it).
YAML_CHAT = """\
- role: system
  content: You answer in one line.
- role: user
  content: {{ question }}
"""
#: A JSON chat that is JSON only once rendered: the value is dumped as a JSON string.
JSON_CHAT = """\
[
  {"role": "system", "content": "You answer in one line."},
  {"role": "user", "content": {{ question | dump }}}
]
"""


@pytest.fixture
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [debian_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_an_imported_gateway_config_keeps_its_endpoint_chats_and_filters(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # The model-call helper's client trusts the test's certificate (httpx reads this).
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with StubServer(tls=context, record=True) as stub:
        config = GATEWAY_CONFIG.replace("{port}", str(stub.port))
        pytester.makefile(".yaml", promptfooconfig=textwrap.dedent(config))
        pytester.makefile(".yaml", **{"prompts/chat": YAML_CHAT})
        pytester.makefile(".json", **{"prompts/chat": JSON_CHAT})
        imported = pytester.run("promptsuite", "import", "promptfooconfig.yaml", "--out", "out")
        assert imported.ret == 0, imported.stderr.str()
        imported.stdout.fnmatch_lines(
            [
                "not carried over or changed (2):",
                "*promptfooconfig.yaml:*: prompts[[]2[]]: filter 'dump' became Jinja2's tojson*",
                "*promptfooconfig.yaml:*: providers[[]0[]].config.apiBaseUrl: not used: promptfoo"
                " prefers apiHost when both are set (https://127.0.0.1:*/v1)",
            ]
        )
        result = pytester.runpytest_subprocess("out/suites", "-p", "no:cacheprovider")
        received = [r.body["messages"] for r in stub.received()]

    result.assert_outcomes(passed=3)
    suite = yaml.safe_load((pytester.path / "out" / "suites" / "gateway.yaml").read_text())
    assert suite["models"][0]["base_url"] == f"https://127.0.0.1:{stub.port}/v1"
    # Every request reached the stub's /v1/chat/completions over HTTPS, as promptfoo's would.
    chat = [
        {"role": "system", "content": "You answer in one line."},
        {"role": "user", "content": "What is 2 + 2?"},
    ]
    facts = '{"count": 2, "unit": "apples"}'
    text = [{"role": "user", "content": f"Facts: {facts}\nQuestion: What is 2 + 2?"}]
    # The YAML and the JSON chat are the same request (the second comes from the cache).
    assert sorted(received, key=len) == [text, chat]
