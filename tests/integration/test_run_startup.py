"""What a suite run does around its cases to be fast: the model-call helper starts when
pytest imports the plugin (or at the latest before pytest configures), and a run of suites
only stops the cyclic collector walking what collection built."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator

import pytest

from tests.stub_server import StubServer

SUITE = """
prompt: {{user: "{{{{ text }}}}"}}
models:
  - {{provider: openai, model: stub-model, label: stub, base_url: "{base_url}", timeout: 10}}
cases:
  - {{id: one, vars: {{text: hello one}}, expect: [{{type: contains, value: one}}]}}
  - {{id: two, vars: {{text: hello two}}, expect: [{{type: contains, value: two}}]}}
"""

# A plugin named with -p, looking when pytest registers promptsuite's plugin (just after
# importing it), after promptsuite's early start (its trylast hook) and once collection is
# over (when the test loop starts).
PROBE = """
import gc, json, os, sys
import pytest
from promptsuite.models import call_helper

seen = {}

def pytest_plugin_registered(plugin, manager):
    if getattr(plugin, "__name__", "") == "promptsuite.plugin":
        seen["helper_at_plugin_import"] = call_helper.process is not None

@pytest.hookimpl(trylast=True)
def pytest_load_initial_conftests(early_config, args):
    seen["helper_before_configure"] = call_helper.process is not None

def pytest_itemcollected(item):
    seen.setdefault("collector_on_while_collecting", gc.isenabled())

@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    seen["helper_after_configure"] = call_helper.process is not None
    seen["frozen"] = gc.get_freeze_count()
    seen["collector_on_in_the_run"] = gc.isenabled()

def pytest_unconfigure(config):
    seen["markdown_imported"] = "promptsuite.markdown" in sys.modules
    loader = getattr(sys.modules.get("promptsuite.suite._load"), "__loader__", None)
    seen["suite_loader_loaded_by"] = type(loader).__name__
    with open(os.path.join(str(config.rootpath), "probe.json"), "w") as out:
        json.dump(seen, out)
"""


def run(pytester: pytest.Pytester, *args: str) -> dict[str, object]:
    result = pytester.runpytest_subprocess("-p", "probe", "-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stdout.str()
    seen: dict[str, object] = json.loads((pytester.path / "probe.json").read_text())
    return seen


@pytest.fixture
def project(pytester: pytest.Pytester) -> Iterator[StubServer]:
    with StubServer() as stub:
        pytester.makepyfile(probe=PROBE)
        suite = textwrap.dedent(SUITE.format(base_url=stub.base_url))
        pytester.makefile(".yaml", **{"suites/echo": suite})
        yield stub


def test_the_helper_starts_before_pytest_configures(
    pytester: pytest.Pytester, project: StubServer
) -> None:
    seen = run(pytester, "suites", "--promptsuite-cache", "off")
    assert seen["helper_at_plugin_import"] is True
    assert seen["helper_before_configure"] is True
    assert seen["helper_after_configure"] is True
    assert project.stats().by_kind["reply"] == 2


def test_a_start_guessed_from_the_command_line_is_stopped_by_the_ini_file(
    pytester: pytest.Pytester, project: StubServer
) -> None:
    # The raw command line asks for the helper; the ini file's addopts switch it off, and
    # pytest reads those only after importing the plugin.
    pytester.makeini("[pytest]\naddopts = --promptsuite-model-process off\n")
    seen = run(pytester, "suites", "--promptsuite-cache", "off")
    assert seen["helper_at_plugin_import"] is True
    assert seen["helper_before_configure"] is False
    assert seen["helper_after_configure"] is False
    assert project.stats().by_kind["reply"] == 2  # the calls ran in the pytest process


def test_a_cached_run_starts_no_helper_at_import(
    pytester: pytest.Pytester, project: StubServer
) -> None:
    seen = run(pytester, "suites")  # the cache is in use: the first miss starts it
    assert seen["helper_at_plugin_import"] is False
    assert seen["helper_before_configure"] is False
    assert project.stats().by_kind["reply"] == 2


def test_configure_stops_an_early_helper_the_final_options_rule_out(
    pytester: pytest.Pytester, project: StubServer
) -> None:
    # A conftest switches the helper off while pytest configures: the command line alone
    # asked for one, so it was started early, and the final options stop it.
    pytester.makeconftest(
        "def pytest_configure(config):\n    config.option.promptsuite_model_process = 'off'\n"
    )
    seen = run(pytester, "suites", "--promptsuite-cache", "off")
    assert seen["helper_before_configure"] is True
    assert seen["helper_after_configure"] is False
    assert project.stats().by_kind["reply"] == 2  # the calls ran in the pytest process


def test_no_early_helper_when_the_command_line_names_no_suite(
    pytester: pytest.Pytester, project: StubServer
) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    seen = run(pytester, "test_plain.py", "--promptsuite-cache", "off")
    assert seen["helper_at_plugin_import"] is False
    assert seen["helper_before_configure"] is False
    assert seen["frozen"] == 0  # not a run of suites: the collector is left as it is


def test_a_run_of_suites_only_freezes_what_collection_built(
    pytester: pytest.Pytester, project: StubServer
) -> None:
    seen = run(pytester, "suites", "--promptsuite-cache", "off")
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000
    # Off while the suites load (their stack lives to the end), on again for the run.
    assert seen["collector_on_while_collecting"] is False
    assert seen["collector_on_in_the_run"] is True


def test_a_session_with_other_tests_keeps_the_collector(
    pytester: pytest.Pytester, project: StubServer
) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    seen = run(pytester, "suites", "test_plain.py", "--promptsuite-cache", "off")
    assert seen["frozen"] == 0
    assert seen["collector_on_in_the_run"] is True
    assert project.stats().by_kind["reply"] == 2


def test_off_github_actions_the_markdown_writer_is_not_imported(
    pytester: pytest.Pytester, project: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    seen = run(pytester, "suites", "--promptsuite-cache", "off")
    assert seen["markdown_imported"] is False


def test_on_github_actions_the_step_summary_is_written(
    pytester: pytest.Pytester, project: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    seen = run(pytester, "suites", "--promptsuite-cache", "off")
    assert seen["markdown_imported"] is True
    assert summary.read_text(encoding="utf-8").startswith("<!-- promptsuite:summary -->\n")


def test_promptsuite_modules_collection_imports_are_not_assertion_rewritten(
    pytester: pytest.Pytester, project: StubServer
) -> None:
    seen = run(pytester, "suites", "--promptsuite-cache", "off")
    assert seen["suite_loader_loaded_by"] == "SourceFileLoader"
