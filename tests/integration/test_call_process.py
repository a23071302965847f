"""The openai calls' helper process: same answers and errors as in-process, faults, shutdown."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from promptsuite.errors import ModelError, RateLimited, TransportError
from promptsuite.models import GenerateRequest, Generation, Message, ModelSpec, call_helper
from promptsuite.models.openai._process import CallProcess
from promptsuite.models.openai.provider import OpenAIProvider
from tests.stub_server import Status, StubServer, sequence

SECRET = "sk-promptsuite-helper-sentinel-51c2"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(record=True) as server:
        yield server


@pytest.fixture
def helper() -> Iterator[CallProcess]:
    process = call_helper.start()
    assert process is not None
    yield process
    call_helper.stop()


def provider(base_url: str, **options: Any) -> OpenAIProvider:
    merged = {"base_url": base_url, "backoff_base": 0.01, "backoff_max": 0.02, **options}
    return OpenAIProvider(ModelSpec("openai", "stub-model", options=tuple(sorted(merged.items()))))


def generate_all(
    model: OpenAIProvider, texts: list[str], *, kill: bool = False
) -> list[Generation | Exception]:
    """Generate on a loop the helper is bound to (as the run's session binds it), once it
    is ready; with ``kill``, the helper is killed first."""

    async def run() -> list[Generation | Exception]:
        call_helper.bind(asyncio.get_running_loop())
        helper = call_helper.process
        if helper is not None:
            assert await helper.wait_ready(call_helper.ready_timeout_s)
            if kill:
                assert helper._process is not None
                helper._process.kill()
        requests = [GenerateRequest((Message("user", t),)) for t in texts]
        try:
            return list(
                await asyncio.gather(*(model.generate(r) for r in requests), return_exceptions=True)
            )
        finally:
            await model.aclose()
            await call_helper.astop()

    return asyncio.run(run())


async def _current_from_a_foreign_loop() -> CallProcess | None:
    return await call_helper.ready()


def comparable(outcome: Generation | Exception) -> Any:
    if isinstance(outcome, Exception):
        return type(outcome).__name__, str(outcome)
    return outcome.to_dict() | {"latency_s": None}


def test_answers_and_errors_are_the_same_through_the_helper(stub: StubServer) -> None:
    texts = ["hello one", "hello two", "bad request", "hello three"]

    def behavior(index: int, body: dict[str, Any]) -> Status | None:
        return Status(400, message="no such model") if "bad" in str(body) else None

    stub.behavior = behavior
    here = [comparable(o) for o in generate_all(provider(stub.base_url), texts)]
    assert call_helper.start() is not None
    try:
        there = [comparable(o) for o in generate_all(provider(stub.base_url), texts)]
    finally:
        call_helper.stop()
    assert there == here
    # A loop the helper is not bound to (a test's own) never sends it anything.
    call_helper.start()
    try:
        assert asyncio.run(_current_from_a_foreign_loop()) is None
    finally:
        call_helper.stop()
    assert here[0]["text"] == "hello one"
    assert here[2] == (
        "BadResponse",
        f"openai model 'stub-model' at {stub.base_url}: HTTP 400: no such model",
    )
    # Every request really reached the server, with the key, both times.
    assert stub.stats().total == 8
    assert {r.headers.get("authorization") for r in stub.received()} == {f"Bearer {SECRET}"}


def test_retries_stay_in_the_pytest_process(stub: StubServer, helper: CallProcess) -> None:
    stub.behavior = sequence(Status(429, retry_after="0"), Status(503))

    (answer,) = generate_all(provider(stub.base_url), ["hello again"])

    assert isinstance(answer, Generation) and answer.text == "hello again"
    assert stub.stats().total == 3

    stub.behavior = lambda index, body: Status(429, retry_after="0")
    call_helper.start()
    (error,) = generate_all(provider(stub.base_url, max_retries=1), ["x"])
    assert isinstance(error, RateLimited)
    assert "after 2 attempt(s)" in str(error) and "\n" not in str(error)


def test_a_missing_key_is_one_line_from_the_helper(
    helper: CallProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The helper inherited the key; a provider naming another variable finds none there.
    model = provider("https://api.openai.com/v1", api_key_env="PROMPTSUITE_NO_SUCH_KEY_VAR")

    (error,) = generate_all(model, ["hello"])

    assert type(error) is ModelError
    assert str(error).startswith("PROMPTSUITE_NO_SUCH_KEY_VAR is not set; export it")
    assert "\n" not in str(error)


def test_a_helper_that_dies_fails_over_to_the_pytest_process(
    stub: StubServer, helper: CallProcess
) -> None:
    model = provider(stub.base_url, max_retries=0)
    (first,) = generate_all(model, ["warm up"])
    assert isinstance(first, Generation)

    # A fresh helper, killed before it answers: the attempt fails with one line naming it.
    assert call_helper.start() is not None
    (error,) = generate_all(provider(stub.base_url, max_retries=0), ["lost"], kill=True)
    assert isinstance(error, TransportError)
    assert "the model-call process exited (code -9)" in str(error)
    assert "\n" not in str(error)

    # With a retry, the next attempt runs in the pytest process and the case is not lost.
    assert call_helper.start() is not None
    (answer,) = generate_all(provider(stub.base_url, max_retries=1), ["kept"], kill=True)
    assert isinstance(answer, Generation) and answer.text == "kept"


def test_stopping_ends_the_helper(helper: CallProcess) -> None:
    process = helper._process
    assert process is not None
    call_helper.stop()
    assert process.returncode is not None
    assert asyncio.run(_current_from_a_foreign_loop()) is None
    call_helper.stop()  # a second stop is harmless
    asyncio.run(call_helper.astop())


def test_a_server_error_page_crosses_as_text_and_is_retried(
    stub: StubServer, helper: CallProcess
) -> None:
    stub.behavior = lambda index, body: Status(502, message="<html>bad\ngateway</html>")

    (error,) = generate_all(provider(stub.base_url, max_retries=1), ["through"])

    assert isinstance(error, TransportError)
    assert "HTTP 502: <html>bad gateway</html> after 2 attempt(s)" in str(error)
    assert stub.stats().total == 2


def test_an_answer_over_the_size_cap_is_refused_alike_through_the_helper() -> None:
    received = 0

    async def oversized(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        received += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{" % (64 * 2**20 + 1))
        await writer.drain()
        writer.close()

    async def run() -> tuple[str, int]:
        server = await asyncio.start_server(oversized, "127.0.0.1", 0)
        base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        call_helper.bind(asyncio.get_running_loop())
        helper = call_helper.process
        sent_to_helper = 0
        model = provider(base_url, max_retries=2)
        try:
            if helper is not None:
                assert await helper.wait_ready(call_helper.ready_timeout_s)
            with pytest.raises(TransportError) as caught:
                await model.generate(GenerateRequest((Message("user", "big"),)))
            if helper is not None:
                sent_to_helper = helper._next_id
            return str(caught.value).replace(base_url, "<endpoint>"), sent_to_helper
        finally:
            await model.aclose()
            await call_helper.astop()
            server.close()

    here, _ = asyncio.run(run())
    assert call_helper.start() is not None
    try:
        there, sent = asyncio.run(run())
    finally:
        call_helper.stop()
    assert sent == 1  # the helper made the attempt, and it was not retried
    assert there == here
    assert here.endswith(
        "response refused: the response body is over 64 MiB, the lean transport's cap"
    )
    assert received == 2  # once each way


SUITE = """
prompt: {{user: "{{{{ text }}}}"}}
models:
  - {{provider: openai, model: stub, label: stub, base_url: "{base_url}", timeout: 5}}
cases:
{cases}
"""


@pytest.mark.parametrize("jobs", [0, 2], ids=["serial", "xdist"])
def test_results_are_identical_with_and_without_the_helper(
    pytester: pytest.Pytester, jobs: int
) -> None:
    cases = "\n".join(
        f"  - {{id: c{i}, vars: {{text: 'hello {i} world'}}, "
        f"expect: [{{type: regex, value: 'hello {i % 3} '}}]}}"
        for i in range(12)
    )
    with StubServer() as stub:
        pytester.makefile(
            ".yaml",
            **{"suites/echo": textwrap.dedent(SUITE.format(base_url=stub.base_url, cases=cases))},
        )
        files = {}
        for mode in ("on", "off"):
            extra = ["-n", str(jobs)] if jobs else []
            result = pytester.runpytest_subprocess(
                "suites", "-p", "no:cacheprovider", "-q", "--promptsuite-cache", "off",
                "--promptsuite-model-process", mode, "--promptsuite-results", f"out-{mode}",
                "--promptsuite-report", "off", *extra,
            )  # fmt: skip
            result.assert_outcomes(passed=3, failed=9)
            files[mode] = json.loads((pytester.path / f"out-{mode}" / "latest.json").read_text())
    for data in files.values():
        data.pop("metadata")
        for case in data["cases"]:
            for repeat in case["repeats"]:
                repeat["generation"]["latency_s"] = None
        data["cases"].sort(key=lambda c: c["test_id"])
    assert files["on"] == files["off"]


def test_a_request_waits_for_a_starting_helper(stub: StubServer) -> None:
    async def run() -> tuple[str, bool, int]:
        call_helper.bind(asyncio.get_running_loop())
        helper = call_helper.process
        assert helper is not None
        model = provider(stub.base_url)
        try:
            # Asked at once, the helper is still importing the client: the request waits
            # for it instead of importing the client in this process too.
            starting = not helper.usable()
            first = await model.generate(GenerateRequest((Message("user", "early"),)))
            return first.text, starting, helper._next_id
        finally:
            await model.aclose()
            await call_helper.astop()

    assert call_helper.start() is not None
    try:
        assert asyncio.run(run()) == ("early", True, 1)
    finally:
        call_helper.stop()


def test_a_helper_not_ready_in_time_leaves_the_request_here(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> tuple[str, int]:
        call_helper.bind(asyncio.get_running_loop())
        helper = call_helper.process
        assert helper is not None
        model = provider(stub.base_url)
        try:
            first = await model.generate(GenerateRequest((Message("user", "here"),)))
            return first.text, helper._next_id
        finally:
            await model.aclose()
            await call_helper.astop()

    monkeypatch.setattr(call_helper, "ready_timeout_s", 0.0)
    assert call_helper.start() is not None
    try:
        assert asyncio.run(run()) == ("here", 0)
    finally:
        call_helper.stop()


def test_on_demand_the_first_request_starts_the_helper(stub: StubServer) -> None:
    async def run(texts: list[str]) -> tuple[list[str], bool]:
        call_helper.bind(asyncio.get_running_loop())
        model = provider(stub.base_url)
        try:
            answers = [
                (await model.generate(GenerateRequest((Message("user", t),)))).text for t in texts
            ]
            return answers, call_helper.process is not None
        finally:
            await model.aclose()
            await call_helper.astop()

    try:
        # A run that makes no request (every answer cached) never starts it.
        call_helper.start_on_demand()
        assert asyncio.run(run([])) == ([], False)
        call_helper.stop()
        call_helper.start_on_demand()
        assert asyncio.run(run(["first", "second"])) == (["first", "second"], True)
    finally:
        call_helper.stop()
    assert stub.stats().total == 2
