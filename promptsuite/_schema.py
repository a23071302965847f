"""The file formats, as pydantic models: suite and prompt files, and the records we write.

The suite and prompt models are the single source of truth: the loader validates against
them and the JSON Schemas shipped in ``promptsuite/schemas/`` (for editor completion) are
generated from them. :class:`Record` is the base of the versioned JSON records the
optimizer and the fine-tune write; :meth:`Record.read` is how each is read back.

At about 500 lines it stays whole: it is the file formats, one model per block of a file
with its field descriptions (which the shipped JSON Schemas carry), so the source of truth
is one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

from promptsuite._files import write_json_atomic
from promptsuite.errors import ConfigError
from promptsuite.stats import Reducer

__all__ = [
    "BaseModel",
    "Case",
    "CaseRows",
    "ChatMessage",
    "CheckSpec",
    "Defaults",
    "FewShot",
    "PromptFile",
    "PromptRef",
    "PromptVariant",
    "SuiteFile",
    "Tool",
    "Turn",
]

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=120)]
ModelRef = str | dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FewShot(_Strict):
    """A few-shot example: one user message and the assistant reply that follows it."""

    user: str = Field(description="The example input, rendered like the user message.")
    assistant: str = Field(description="The reply the model should imitate.")


class ChatMessage(_Strict):
    """A chat message template."""

    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(description="Template text (Jinja2, sandboxed, strict).")


class ToolFunction(_Strict):
    """A function the model may call: its name, what it does and its arguments' schema."""

    name: Identifier = Field(description="The function's name, as the model calls it.")
    description: str | None = Field(None, description="What the function does.")
    parameters: dict[str, Any] | None = Field(
        None, description="JSON Schema of the arguments (an object schema)."
    )
    strict: bool | None = Field(None, description="OpenAI's strict argument validation.")


class Tool(_Strict):
    """A tool a prompt declares, in OpenAI's `tools` format."""

    type: Literal["function"] = Field(description="Always 'function'.")
    function: ToolFunction = Field(description="The function.")


class JsonSchemaFormat(_Strict):
    """The JSON Schema a `json_schema` response format asks for."""

    name: str = Field("response", description="A name for the schema.")
    schema_: dict[str, Any] = Field(alias="schema", description="The JSON Schema.")
    strict: bool | None = Field(None, description="OpenAI's strict schema adherence.")
    description: str | None = Field(None, description="What the response is.")


class ResponseFormat(_Strict):
    """OpenAI's `response_format`: JSON output, optionally to a schema."""

    type: Literal["json_schema", "json_object", "text"] = Field(description="The format.")
    json_schema: JsonSchemaFormat | None = Field(
        None, description="The schema, for type json_schema."
    )


class PromptVariant(_Strict):
    """One way of prompting for the task.

    Write either ``system`` / ``examples`` / ``user``, rendered in that order (shared text
    first, so a local model reuses its cached prompt prefix), or an explicit ``messages`` list.
    """

    description: str | None = Field(None, description="What distinguishes this variant.")
    system: str | None = Field(None, description="System message template.")
    examples: list[FewShot] = Field(default_factory=list, description="Few-shot pairs.")
    user: str | None = Field(None, description="User message template (case-specific, last).")
    messages: list[ChatMessage] | None = Field(
        None, description="Explicit message list; excludes system/examples/user."
    )
    tools: list[Tool] | None = Field(
        None, description="Tools the model may call, in OpenAI's `tools` format."
    )
    response_format: ResponseFormat | None = Field(
        None,
        description="Ask for JSON output: {type: json_schema, json_schema: {name, schema}} or "
        "{type: json_object} (OpenAI's format); the embedded model enforces the schema with "
        "constrained decoding.",
    )


class PromptFile(PromptVariant):
    """A ``prompts/*.yaml`` file: one prompt with one or more named variants.

    A file without ``variants`` is a single variant named ``default``.
    """

    name: str | None = Field(None, description="Prompt name; defaults to the file name.")
    default: str | None = Field(None, description="Variant used when a suite names none.")
    variants: dict[Identifier, PromptVariant] | None = Field(
        None, description="Named variants of this prompt."
    )


class PromptRef(_Strict):
    """A suite's reference to a prompt file, optionally choosing variants to compare."""

    file: str = Field(description="Path of the prompt file, relative to the suite file.")
    variants: list[str] | None = Field(
        None, description="Variants to run; each becomes its own test item. Default: the default."
    )


def _promptfoo_spellings(schema: dict[str, Any]) -> None:
    """List promptfoo's ``provider`` beside ``grader``, so editors accept either spelling."""
    properties = schema.get("properties", {})
    if "grader" in properties:
        properties["provider"] = {**properties["grader"], "title": "Provider"}


class CheckSpec(_Strict):
    """One check of a model output, as a suite writes it under ``expect`` (promptfoo-compatible
    semantics).

    Any ``type`` may be negated with a ``not-`` prefix. ``weight`` sets its share of the
    case's weighted mean score; ``weight: 0`` never fails a case.
    """

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra=_promptfoo_spellings
    )

    type: str = Field(description="Check type, e.g. contains, regex, is-json, judge, not-equals.")
    value: Any = Field(None, description="The check's argument (text, pattern, rubric...).")
    weight: float = Field(1.0, ge=0, description="Weight in the case score.")
    threshold: float | None = Field(
        None,
        description="The check's pass mark: a minimum score (similar, rouge-n, bleu, judge, "
        "python, assert-set), a maximum (levenshtein distance, perplexity, latency in ms, "
        "cost in USD).",
    )
    min: float | None = Field(None, description="Lower bound (length, word-count, latency...).")
    max: float | None = Field(None, description="Upper bound (length, word-count, latency...).")
    path: str | None = Field(None, description="Field path for json-field (a.b[0].c).")
    json_schema: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON Schema for the json-schema check."
    )
    rubric: str | None = Field(None, description="Grading rubric for judge (or use value).")
    grader: ModelRef | None = Field(
        None,
        validation_alias=AliasChoices("grader", "provider"),
        description="Grader model for model-graded checks, or the embedding model for "
        "similar (promptfoo's spelling, provider, is accepted).",
    )
    metric: str | None = Field(None, description="A name to report this check under.")
    transform: str | None = Field(
        None,
        description="Rewrite the output before this check: a Python expression of `output` "
        "(and `context`), a body with `return`, 'file://path.py:function' or "
        "'module:function'.",
    )
    config: dict[str, Any] | None = Field(
        None, description="Settings handed to a python check's function as context['config']."
    )
    checks: list[CheckSpec] | None = Field(
        None,
        alias="assert",
        description="The checks an assert-set groups (it passes when all pass, or when their "
        "weighted score reaches its threshold).",
    )


class Turn(_Strict):
    """One turn of a conversation: a user message the model answers, or a fixed reply.

    A ``user`` turn is sent with everything before it (the model's own earlier replies
    included) and its ``expect`` checks the model's answer; an ``assistant`` turn is put in
    the transcript as written, as if the model had said it.
    """

    user: str | None = Field(None, description="User message template; the model answers it.")
    assistant: str | None = Field(
        None, description="A fixed assistant reply (template), instead of the model's."
    )
    expect: list[CheckSpec] = Field(
        default_factory=list, description="Checks of the model's answer to this user turn."
    )
    tool_results: dict[str, Any] | None = Field(
        None,
        description="Canned results of tool calls made in this turn, by tool name (text, or "
        "a JSON value sent as JSON); overrides the case's.",
    )
    reference: str | None = Field(
        None,
        description="The gold answer to this user turn (template), for fine-tuning data; "
        "never shown to the model.",
    )


class Case(_Strict):
    """One expected behaviour: inputs and the checks its output must pass."""

    id: Identifier = Field(description="Stable id, unique in the suite; used in test ids.")
    description: str | None = Field(None, description="What this case is about.")
    vars: dict[str, Any] = Field(default_factory=dict, description="Template variables.")
    tags: list[Identifier] = Field(default_factory=list, description="Tags (pytest -m).")
    expect: list[CheckSpec] = Field(
        default_factory=list,
        description="Checks to pass; in a conversation, checks of the whole transcript (the "
        "model's replies, one paragraph each).",
    )
    turns: list[Turn] | None = Field(
        None,
        description="A conversation: user turns the model answers in order, its replies "
        "carried into the next turn, and fixed assistant turns.",
    )
    tool_results: dict[str, Any] | None = Field(
        None, description="Canned tool results by tool name, for every turn."
    )
    response_format: ResponseFormat | None = Field(
        None, description="Ask for JSON output (overrides the prompt's response_format)."
    )
    threshold: float | None = Field(
        None, ge=0, le=1, description="Pass when weighted mean score >= threshold."
    )
    repeat: int | None = Field(None, ge=1, le=1000, description="Runs of this case.")
    reducer: Reducer | None = Field(
        None, description="How repeats make one verdict: all-pass, mean or any-pass."
    )
    min_pass_rate: float | None = Field(
        None, ge=0, le=1, description="Pass when at least this fraction of repeats pass."
    )
    reference: str | dict[str, Any] | None = Field(
        None,
        description="The gold output: the reply text, or for JSON replies the expected "
        "fields as a mapping. Used for labelled demos and fine-tuning data, never shown to "
        "the model for the case itself.",
    )
    transform: str | None = Field(
        None,
        description="Rewrite the output before every check of the case (like a check's "
        "transform; overrides the suite default's).",
    )


class RowColumns(_Strict):
    """Which columns of a data file give each case's id, vars, reference and tags."""

    id: str | None = Field(
        None,
        description="Column of the case id (default: 'id' if the file has one, else "
        "the file's name and row number).",
    )
    vars: dict[str, str] | None = Field(
        None,
        description="Template variable -> column. Default: every column is a variable.",
    )
    reference: str | None = Field(None, description="Column of the gold output (reference).")
    tags: str | None = Field(
        None, description="Column of tags: one tag, or several separated by commas or spaces."
    )
    description: str | None = Field(None, description="Column of the case description.")


class CaseRows(_Strict):
    """Cases from the rows of a data file (CSV, JSON Lines or YAML), one case per row.

    Every string in ``expect`` and ``description`` is a template over the row's columns and
    the case's vars (``value: "{{ label }}"``), rendered in the prompts' sandbox.
    """

    file: str = Field(
        description="CSV (.csv), JSON Lines (.jsonl) or YAML (.yaml, a list of mappings) "
        "file, relative to the suite file."
    )
    columns: RowColumns = Field(
        default_factory=lambda: RowColumns(), description="Columns -> case fields."
    )
    id: str | None = Field(
        None, description="Template of the case id over the row (instead of columns.id)."
    )
    description: str | None = Field(None, description="Template of each case's description.")
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Variables for every row (the row's win)."
    )
    tags: list[Identifier] = Field(default_factory=list, description="Tags on every row's case.")
    expect: list[CheckSpec] = Field(
        default_factory=list, description="Checks for every row, templated from its values."
    )
    threshold: float | None = Field(None, ge=0, le=1, description="As in a case.")
    repeat: int | None = Field(None, ge=1, le=1000, description="As in a case.")
    reducer: Reducer | None = Field(None, description="As in a case.")
    min_pass_rate: float | None = Field(None, ge=0, le=1, description="As in a case.")
    transform: str | None = Field(None, description="As in a case.")


def _case_kind(value: Any) -> str:
    if isinstance(value, CaseRows) or (isinstance(value, dict) and "file" in value):
        return "rows"
    return "case"


class Defaults(_Strict):
    """Settings every case of the suite inherits."""

    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(256, ge=1, le=100_000, description="Generation limit.")
    seed: int | None = Field(None, description="Sampling seed, where the backend honours one.")
    repeat: int = Field(1, ge=1, le=1000, description="Runs of each case.")
    reducer: Reducer = Field(
        "all-pass",
        description="How a case's repeats make one verdict and score: all-pass (every repeat "
        "passes; lowest score), mean (at least half pass; mean score) or any-pass (pass@k; "
        "highest score).",
    )
    min_pass_rate: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Pass a case when at least this fraction of its repeats pass (overrides "
        "the reducer's verdict, not its score).",
    )
    tags: list[Identifier] = Field(default_factory=list, description="Tags on every case.")
    vars: dict[str, Any] = Field(default_factory=dict, description="Variables for every case.")
    expect: list[CheckSpec] = Field(default_factory=list, description="Checks added to every case.")
    threshold: float | None = Field(None, ge=0, le=1, description="Default case threshold.")
    transform: str | None = Field(
        None, description="Rewrite every case's output before its checks (see Case.transform)."
    )


def _default_models() -> list[ModelRef]:
    return ["local"]


def _default_defaults() -> Defaults:
    return Defaults()


def _prompt_kind(value: Any) -> str:
    if isinstance(value, str):
        return "path"
    if isinstance(value, PromptRef) or (isinstance(value, dict) and "file" in value):
        return "ref"
    return "inline"


class SuiteFile(_Strict):
    """A ``suites/*.yaml`` file."""

    name: str | None = Field(None, description="Suite name; defaults to the file name.")
    description: str | None = Field(None, description="What the suite checks.")
    prompt: Annotated[
        Annotated[str, Tag("path")]
        | Annotated[PromptRef, Tag("ref")]
        | Annotated[PromptFile, Tag("inline")],
        Discriminator(_prompt_kind),
    ] = Field(description="A prompt file path, a reference with variants, or an inline prompt.")
    models: list[ModelRef] = Field(
        default_factory=_default_models,
        description="Models to run: 'local', 'openai:gpt-4o-mini', or {provider, model, ...}.",
    )
    defaults: Defaults = Field(default_factory=_default_defaults, description="Inherited settings.")
    cases: list[
        Annotated[
            Annotated[Case, Tag("case")] | Annotated[CaseRows, Tag("rows")],
            Discriminator(_case_kind),
        ]
    ] = Field(min_length=1, description="The cases, or data files of cases ({file: ...}).")

    @field_validator("models")
    @classmethod
    def _models_not_empty(cls, value: list[ModelRef]) -> list[ModelRef]:
        if not value:
            raise ValueError("list at least one model")
        return value


# ---------------------------------------------------------------- the records we write


@dataclass(frozen=True)
class RecordFile:
    """How a record saved as a file of its own is found and named.

    Attributes:
        name: The file's usual name (``optimization.json``), looked for in a folder.
        what: The record's name in an error (``an optimization report``).
        hint: What to pass instead, for an error.
    """

    name: str
    what: str
    hint: str


class Record(BaseModel):
    """Base of a persisted record (and of its parts).

    Unknown keys are refused, so a file of another kind is named as such instead of half
    read. Each field has a docstring below it (for readers and documentation tools; pydantic
    is not asked to copy them into descriptions, which parses every class's source on
    import). A record's validator is built when it is first used, not on import: the
    commands import every record, most runs use few.

    A record saved as a file of its own says which in :attr:`saved_as` (:meth:`read` uses it).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    saved_as: ClassVar[RecordFile | None] = None
    """The file a record of its own is saved as; None for a part of a record."""

    @classmethod
    def read(cls, path: str | Path) -> Self:
        """Read the record from its file, or from the folder that holds it as
        :attr:`saved_as`; a record of an older version is converted by the model itself.
        The path may be a string.

        Raises:
            ConfigError: One line naming the file: it is missing, not JSON, or not this
                record.
        """
        file = cls.saved_as or RecordFile("", f"a {cls.__name__} record", "")
        path = Path(path)
        if path.is_dir() and file.name:
            path = path / file.name
        hint = f"; {file.hint}" if file.hint else ""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read {file.what} ({exc.strerror or exc}){hint}"
            ) from None
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ConfigError(f"{path}: not {file.what} ({_first_problem(exc)}){hint}") from None


class FrozenRecord(Record):
    """A record (or a part of one) that is built whole and never changed."""

    model_config = ConfigDict(frozen=True)


class SuiteRunRecord(Record):
    """A record of one run over a suite: the fields every such record opens with."""

    version: int
    """Version of this record's shape (each record narrows it to its own)."""
    suite: str
    """Suite name."""
    suite_path: str
    """Suite file."""


def write_record(path: Path, record: BaseModel) -> Path:
    """Write a record as indented JSON, atomically."""
    return write_json_atomic(path, record.model_dump(mode="json", by_alias=True), indent=2)


def _first_problem(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    problem = " ".join(str(first["msg"]).split())
    more = error.error_count() - 1
    return (f"{where}: " if where else "") + problem + (f"; {more} more" if more else "")
