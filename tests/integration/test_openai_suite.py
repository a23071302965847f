"""A suite run through pytest against an OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from tests.stub_server import Status, StubServer

SUITE = """
prompt: {{system: "Echo the user.", user: "{{{{ text }}}}"}}
models:
  - {{provider: openai, model: stub-model, label: stub, base_url: "{base_url}",
     backoff_base: 0.01, max_retries: 2, timeout: 5}}
cases:
{cases}
"""


def suite_text(base_url: str, count: int) -> str:
    cases = "\n".join(
        f"  - {{id: c{i:03d}, vars: {{text: 'hello {i} world'}}, "
        f"expect: [{{type: regex, value: 'hello \\d+'}}, {{type: contains, value: world}}]}}"
        for i in range(count)
    )
    return SUITE.format(base_url=base_url, cases=cases)


def test_suite_against_real_http_server_with_retries(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-SECRET-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)

    throttled: set[str] = set()

    def flaky(index: int, body: dict[str, Any]) -> Status | None:
        text = body["messages"][-1]["content"]
        if text == "hello 7 world":
            return Status(500)  # always: becomes an error after retries
        # Every fifth case is throttled once, whatever order the concurrent requests arrive
        # in (keying on the global request index let a retry be throttled again).
        if int(text.split()[1]) % 5 == 0 and text not in throttled:
            throttled.add(text)
            return Status(429, retry_after="0")
        return None

    with StubServer(behavior=flaky, delay=0.05) as stub:
        pytester.makefile(
            ".yaml", **{"suites/echo": textwrap.dedent(suite_text(stub.base_url, 40))}
        )
        result = pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", "-q")
        result.assert_outcomes(passed=39, errors=1)
        result.stdout.fnmatch_lines(["*c007*", "TransportError: *500*"])
        stats = stub.stats()
        assert stats.max_in_flight > 1  # the suite's calls ran concurrently
        assert stats.by_kind["reply"] == 39
        assert stats.by_kind["status_429"] == 8  # cases 0, 5, ..., 35, each retried once

        stub.reset()
        again = pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", "-q")
        again.assert_outcomes(passed=39, errors=1)
        assert stub.stats().by_kind.get("reply", 0) == 0  # only the failed case was retried
        assert stub.stats().total == 3  # 1 attempt + 2 retries

    written = [p for p in pytester.path.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    data = json.loads((pytester.path / "reports" / "latest.json").read_text())
    assert data["cases"][0]["backend"] == {
        "provider": "openai",
        "model": "stub-model",
        "base_url": stub.base_url,
    }
