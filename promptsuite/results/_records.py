"""The records of a run: each check, each generation, each repeat, each case.

Plain frozen dataclasses with hand-written ``to_dict`` / ``from_dict`` (``asdict`` deep-copies
every nested value, which dominated the plugin's per-case cost on large runs). Their dict
form is the results file's, unchanged since version 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from promptsuite.stats import Reducer, wilson_interval

BaselineStatus = Literal["regression", "known-failure", "improved", "pass", "new"]
"""How a case stands against its suite's committed baseline."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one output.

    Attributes:
        type: The check type as written, e.g. ``not-contains``.
        passed: Whether the check passed (after negation).
        score: Score from 0 to 1 (after negation).
        reason: One line: what was expected and what was seen.
        weight: The check's weight in the case score.
        metric: The name the check is reported under, if any.
        turn: In a conversation, the 1-based user turn whose reply it checked; None for a
            check of a single reply or of the whole transcript.
        grader: For a model-graded check, the grader model that judged (its label or
            ``provider:model``); None for every other check.
        rubric: For a model-graded check, what it was judged on (the rubric or criteria
            text; empty for types whose instructions are fixed, such as ``factuality``).
            The grader, the type and the rubric name the judge that ``promptsuite
            calibrate`` measures against people's labels.
    """

    type: str
    passed: bool
    score: float
    reason: str
    weight: float
    metric: str | None = None
    turn: int | None = None
    grader: str | None = None
    rubric: str | None = None

    @property
    def name(self) -> str:
        """How reports name the check: its type, and its metric when it has one."""
        return f"{self.type} ({self.metric})" if self.metric else self.type

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        data: dict[str, Any] = {
            "type": self.type,
            "passed": self.passed,
            "score": self.score,
            "reason": self.reason,
            "weight": self.weight,
            "metric": self.metric,
        }
        if self.turn is not None:  # absent for single replies: their form is unchanged
            data["turn"] = self.turn
        if self.grader is not None:  # only model-graded checks name their judge
            data["grader"] = self.grader
            data["rubric"] = self.rubric
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Read :meth:`to_dict`'s form."""
        return cls(
            type=str(data["type"]),
            passed=bool(data["passed"]),
            score=float(data["score"]),
            reason=str(data.get("reason", "")),
            weight=float(data.get("weight", 1.0)),
            metric=data.get("metric"),
            turn=int(data["turn"]) if data.get("turn") is not None else None,
            grader=data.get("grader"),
            rubric=data.get("rubric"),
        )


@dataclass(frozen=True)
class GenerationRecord:
    """What a repeat's model calls cost (the reply text is the repeat's output).

    ``prompt_tokens``, ``completion_tokens``, ``latency_s``, ``finish_reason``, ``model`` and
    ``cached`` are the :class:`promptsuite.models.Generation`'s it records; over several
    requests, tokens and latency are their sums (tokens include those the endpoint reported
    in answers that could not be used), finish reason and model the last answer's.

    Attributes:
        calls: The requests answered, by the model or the cache: more than 1 for a
            conversation or a reply with tool round trips, 0 when every request failed.
        cache_hits: How many of those the cache answered (None: 1 if cached, else 0).
        failed: Requests sent that got no usable answer: the provider's retries and the
            request it gave up on. A repeat that errored keeps what it spent before.
        retried: Of the failed requests, those that were sent again.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    model: str = ""
    cached: bool = False
    calls: int = 1
    cache_hits: int | None = None
    failed: int = 0
    retried: int = 0

    @property
    def hits(self) -> int:
        """Requests of this record the cache answered."""
        return self.cache_hits if self.cache_hits is not None else int(self.cached)

    @property
    def sent(self) -> int:
        """Requests that reached the model: answered by it, or failed."""
        return self.calls - self.hits + self.failed

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_s,
            "finish_reason": self.finish_reason,
            "model": self.model,
            "cached": self.cached,
            # Only for several requests, so a single reply's record keeps its form.
            **(
                {
                    "calls": self.calls,
                    "cache_hits": self.hits,
                    "failed": self.failed,
                    "retried": self.retried,
                }
                if self.calls != 1 or self.failed
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationRecord:
        """Read :meth:`to_dict`'s form."""
        return cls(
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            latency_s=float(data.get("latency_s", 0.0)),
            finish_reason=data.get("finish_reason"),
            model=str(data.get("model", "")),
            cached=bool(data.get("cached", False)),
            calls=int(data.get("calls", 1)),
            cache_hits=int(data["cache_hits"]) if data.get("cache_hits") is not None else None,
            failed=int(data.get("failed", 0)),
            retried=int(data.get("retried", 0)),
        )


@dataclass(frozen=True)
class RepeatResult:
    """One sample of one case.

    Attributes:
        index: Repeat index, from 0.
        output: The model's reply ("" when the call failed).
        generation: What its model calls cost: tokens, latency, finish reason, model,
            whether it came from the cache, the requests answered and failed; kept when
            the repeat errored after some of them. None when no request was made.
        checks: Every check's result.
        passed: Whether this sample passed the case.
        score: Weighted mean score of the checks.
        error: Why the sample could not be produced or checked, if so.
        transcript: In a conversation, every message of it as the model saw it and
            answered (its replies and tool calls included); each message a turn produced
            carries that turn's number under ``turn``. None for a single reply.
    """

    index: int
    output: str
    generation: GenerationRecord | None
    checks: list[CheckResult]
    passed: bool
    score: float
    error: str | None = None
    transcript: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The repeat as JSON-ready data (a missing generation is ``{}``)."""
        return {
            "index": self.index,
            "output": self.output,
            "generation": self.generation.to_dict() if self.generation else {},
            "checks": [c.to_dict() for c in self.checks],
            "passed": self.passed,
            "score": self.score,
            "error": self.error,
            **({"transcript": self.transcript} if self.transcript is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RepeatResult:
        """Read :meth:`to_dict`'s form."""
        generation = data.get("generation")
        return cls(
            index=int(data["index"]),
            output=str(data.get("output", "")),
            generation=GenerationRecord.from_dict(generation) if generation else None,
            checks=[CheckResult.from_dict(c) for c in data.get("checks", ())],
            passed=bool(data["passed"]),
            score=float(data["score"]),
            error=data.get("error"),
            transcript=data.get("transcript"),
        )


@dataclass(frozen=True)
class CaseResult:
    """One case x model x prompt variant, over all its repeats.

    Attributes:
        test_id: The pytest node id (``suites/support.yaml::refund[local]``).
        suite: Suite name.
        suite_path: Suite file path.
        case_id: Case id.
        model: Model label used in test ids.
        backend: The backend's identity (provider, model, endpoint; never a secret).
        variant: Prompt variant name.
        tags: Case tags.
        messages: The rendered messages sent to the model.
        repeats: Every sample.
        passed: The case's verdict: its repeats reduced by ``reducer`` (and
            ``min_pass_rate``); False when any sample errored.
        score: The case's score under the reducer (mean, lowest or highest repeat score).
        error: Set when any sample errored (model, template or check error).
        error_kind: The error's class name.
        reducer: How the repeats were reduced (``all-pass``, ``mean``, ``any-pass``).
        min_pass_rate: The fraction of repeats that had to pass, when the case set one.
        baseline_status: Against the committed baseline: ``pass``, ``regression``,
            ``known-failure``, ``improved`` or ``new`` (None without a baseline).
        threshold: The case's threshold on its weighted mean score, when it set one
            (else it passes when every check with a positive weight passes).
        uncalibrated: Set when the run required calibrated judges
            (``judge-calibration: require``) and this verdict rests on a judge people have
            not calibrated: why, with the judge's kappa and label count. The verdict is
            then withheld (reported as uncalibrated, neither pass nor fail).
    """

    test_id: str
    suite: str
    suite_path: str
    case_id: str
    model: str
    backend: dict[str, Any]
    variant: str
    tags: list[str]
    messages: list[dict[str, Any]]
    repeats: list[RepeatResult]
    passed: bool
    score: float
    error: str | None = None
    error_kind: str | None = None
    reducer: Reducer = "all-pass"
    min_pass_rate: float | None = None
    baseline_status: BaselineStatus | None = None
    threshold: float | None = None
    uncalibrated: str | None = None

    @property
    def passes(self) -> int:
        """Repeats that passed."""
        return sum(1 for r in self.repeats if r.passed)

    @property
    def pass_rate(self) -> float:
        """Fraction of repeats that passed (0 when none ran)."""
        return self.passes / len(self.repeats) if self.repeats else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% interval of the pass rate over the repeats."""
        return wilson_interval(self.passes, len(self.repeats))

    @property
    def flaky(self) -> bool:
        """The repeats disagree: some passed, some did not."""
        return 0 < self.passes < len(self.repeats)

    @property
    def mean_score(self) -> float:
        """Mean score over the repeats, whatever the reducer."""
        return mean([r.score for r in self.repeats])

    @property
    def generations(self) -> list[GenerationRecord]:
        """The call record of every repeat that sent a request or had one answered by the cache."""
        return [r.generation for r in self.repeats if r.generation is not None]

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens over every repeat."""
        return sum(g.tokens for g in self.generations)

    @property
    def mean_latency_s(self) -> float:
        """Mean latency of the repeats that got an answer (0 when none did)."""
        return mean([g.latency_s for g in self.generations if g.calls])

    def to_dict(self) -> dict[str, Any]:
        """The case as JSON-ready data."""
        data = dict(self.__dict__)
        data["repeats"] = [r.to_dict() for r in self.repeats]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseResult:
        """Read :meth:`to_dict`'s form."""
        values = dict(data)
        values["repeats"] = [RepeatResult.from_dict(r) for r in data["repeats"]]
        return cls(**values)


def mean(values: Sequence[float]) -> float:
    """The mean, 0 for no values."""
    return sum(values) / len(values) if values else 0.0
