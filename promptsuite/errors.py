"""The promptsuite error tree.

Every error promptsuite raises on purpose derives from :class:`PromptsuiteError`::

    PromptsuiteError
    ├── ConfigError            a suite, prompt or option is invalid; knows file:line:column
    │   └── SuiteLoadError     every ConfigError found in one file, reported together
    ├── TemplateError          a prompt template failed to render (undefined variable, sandbox)
    ├── CheckError             a check could not be evaluated (not a failed check)
    ├── MissingDependency      an optional extra is not installed; ends with the install command
    ├── ReportError            the HTML report could not be rendered (the results are kept)
    ├── OptimizeError          the optimizer could not run its search (or score its baseline)
    ├── CaseError              a case's output could not be produced or checked (test *error*)
    ├── CaseFailed             a case's output did not pass its checks (test *failure*)
    ├── GateFailed             a suite gate's verdict fails the run
    └── ModelError             a provider could not produce a generation (test *error*, not fail)
        ├── ModelTimeout       the request timed out (after retries)
        ├── RateLimited        the endpoint kept answering 429 (after retries)
        ├── TransportError     connection failures and 5xx answers (after retries)
        ├── BadResponse        the endpoint answered, but not with a usable completion
        └── CacheMiss          replay mode found no recorded response for a request

This module imports nothing from the rest of the package so every layer can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PromptsuiteError(Exception):
    """Base of every error promptsuite raises deliberately."""


@dataclass(frozen=True)
class Location:
    """Where in a user's file a problem is.

    Attributes:
        file: Path of the file as the user would type it.
        line: 1-based line, or None when unknown.
        column: 1-based column, or None when unknown.
        case_id: The case the problem belongs to, if any.
        field: Dotted path of the offending field (``cases[2].expect[0].value``).
    """

    file: str
    line: int | None = None
    column: int | None = None
    case_id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [where]
        if self.case_id:
            parts.append(f"case {self.case_id!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ": ".join(parts)


class ConfigError(PromptsuiteError):
    """A suite, prompt file or option is invalid.

    The message is one line: ``file:line:col: case 'x': field 'y': what is expected``.
    """

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class SuiteLoadError(ConfigError):
    """All the problems found in one file, so users fix them in one pass."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, first.location)
        self.args = ("\n".join(str(e) for e in self.errors),)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class TemplateError(PromptsuiteError):
    """A prompt template failed to render."""


class CheckError(PromptsuiteError):
    """A check could not be evaluated (bad reference, unparseable grader reply)."""


class MissingDependency(PromptsuiteError):
    """An optional dependency is missing; the message ends with the install command."""

    def __init__(self, what: str, install: str) -> None:
        self.install = install
        super().__init__(f"{what} is not installed. Install it with: {install}")


class ReportError(PromptsuiteError):
    """The HTML report could not be rendered; the run's results file is still written."""


class OptimizeError(PromptsuiteError):
    """The optimizer could not run its search, or could not score its baseline."""


class CaseError(PromptsuiteError):
    """A case whose output could not be produced or checked: a test *error*, not a failure.

    The message names the error's kind and says where it happened.
    """


class CaseFailed(PromptsuiteError):
    """A case whose output did not pass its checks: a test *failure*.

    The message is the whole explanation: the rendered messages, the output and each
    failed check's reason.
    """


class GateFailed(PromptsuiteError):
    """A suite gate whose verdict fails the run (a regression, or no baseline to gate on)."""


class ModelError(PromptsuiteError):
    """A provider could not produce a generation. Reported as a test error, never a fail.

    What the failure cost is kept on the error, so a run counts every request it made.

    Attributes:
        requests: Requests sent to the model for this generation, every one failed (0
            when none was sent: a missing key, a cache miss, a model that would not load).
        prompt_tokens: Prompt tokens the endpoint reported in answers it could not use.
        completion_tokens: Completion tokens reported in those answers.
    """

    def __init__(
        self,
        *args: object,
        requests: int = 0,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        super().__init__(*args)
        self.requests = requests
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens


class ModelTimeout(ModelError):
    """The request timed out, after the configured retries."""


class RateLimited(ModelError):
    """The endpoint kept answering 429, after the configured retries."""


class TransportError(ModelError):
    """Connection failures and 5xx answers, after the configured retries."""


class BadResponse(ModelError):
    """The endpoint answered, but not with a usable completion."""


class CacheMiss(ModelError):
    """Replay mode found no recorded response for a request."""
