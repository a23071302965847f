"""Render -> generate -> check, for many cases at once. No pytest in here.

All jobs of a run go through one :class:`Runner`: a global bound on requests in flight plus
each provider's own bound, and the response cache in front of every provider.

At a little over 500 lines it stays whole: it is the one place a case becomes model calls
and a result (single replies, conversations with tool round trips, graders, embeddings,
repeats and their reduction), so the cache, the bounds and the call counts hold for all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsuite.cache import CacheMode, ResponseCache, cache_key
from promptsuite.config import RunSettings
from promptsuite.conversation import (
    CallTally,
    numbered,
    respond,
    total_generation,
    transcript_output,
)
from promptsuite.errors import CacheMiss, ModelError, PromptsuiteError
from promptsuite.models import (
    Embeddings,
    GenerateRequest,
    Generation,
    GenerationParams,
    Message,
    ModelSpec,
    Provider,
    create_provider,
)
from promptsuite.results import CaseResult, CheckResult, RepeatResult
from promptsuite.stats import Reducer, reduce_repeats
from promptsuite.suite import ResolvedCase, Suite
from promptsuite.template import render, render_messages

if TYPE_CHECKING:
    from promptsuite.checks import CheckContext


@dataclass(frozen=True)
class Job:
    """One case x model x prompt variant: a test item's worth of work."""

    test_id: str
    suite: Suite
    case: ResolvedCase
    model: ModelSpec
    variant: str


@dataclass
class RunStats:
    """Counters of a run's requests and outcomes.

    Attributes:
        model_calls: Requests sent to a model, answered or failed (retries included).
        failed_calls: Of those, the requests that got no usable answer.
        cache_hits: Requests the cache (or an identical request in flight) answered.
        errors: Samples that ended in an error.
        by_provider: Requests sent, per provider name.
    """

    model_calls: int = 0
    failed_calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    by_provider: dict[str, int] = field(default_factory=dict)


def plan_jobs(suite: Suite, models: Sequence[ModelSpec] | None = None) -> list[Job]:
    """Every job of a suite in a deterministic order: case, then model, then variant."""
    chosen = list(models) if models else list(suite.models)
    jobs = []
    for case in suite.cases:
        for model in chosen:
            for variant in suite.variants:
                jobs.append(
                    Job(job_id(suite, case.id, model, variant), suite, case, model, variant)
                )
    return jobs


def job_id(suite: Suite, case_id: str, model: ModelSpec, variant: str) -> str:
    """The readable test id: ``suites/x.yaml::case[model]`` or ``...[model-variant]``."""
    param = model.display if len(suite.variants) == 1 else f"{model.display}-{variant}"
    return f"{suite.path}::{case_id}[{param}]"


class Runner:
    """Runs jobs concurrently through cached providers."""

    def __init__(self, settings: RunSettings | None = None) -> None:
        self.settings = settings or RunSettings()
        self.stats = RunStats()
        mode = self.settings.cache_mode
        self._cache = None if mode is CacheMode.OFF else ResponseCache(self.settings.cache_path)
        self._providers: dict[str, Provider] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._global: asyncio.Semaphore | None = None
        self._inflight: dict[str, asyncio.Future[Generation]] = {}
        self._embeddings: dict[tuple[str, str], list[float]] = {}

    # ------------------------------------------------------------ providers

    def provider(self, spec: ModelSpec) -> Provider:
        """The provider for a spec, created once per run."""
        key = repr(spec)
        if key not in self._providers:
            self._providers[key] = create_provider(spec)
        return self._providers[key]

    def _limit(self, key: str, provider: Provider) -> asyncio.Semaphore | None:
        if provider.max_concurrency is None:
            return None
        if key not in self._limits:
            self._limits[key] = asyncio.Semaphore(provider.max_concurrency)
        return self._limits[key]

    async def generate(
        self,
        spec: ModelSpec,
        request: GenerateRequest,
        repeat: int = 0,
        tally: CallTally | None = None,
    ) -> Generation:
        """One generation, through the cache and the concurrency bounds.

        Args:
            spec: The model.
            request: What to send.
            repeat: The repeat index (part of the cache key).
            tally: Where to count the answer and every request this call sends, failed
                ones included (a sample's own tally).
        """
        provider = self.provider(spec)
        identity = provider.identity()
        key = cache_key(identity, request, repeat)
        mode = self.settings.cache_mode
        tally = tally if tally is not None else CallTally()
        if self._cache is not None and mode in (CacheMode.USE, CacheMode.REPLAY):
            hit = self._cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                tally.answered(hit)
                return hit
        if mode in (CacheMode.USE, CacheMode.REPLAY):
            # An identical request already on its way is answered by the same generation,
            # as the cache would answer it a moment later (and its requests are the other
            # caller's to count).
            pending = self._inflight.get(key)
            if pending is not None:
                generation = replace(await asyncio.shield(pending), cached=True, retried=0)
                self.stats.cache_hits += 1
                tally.answered(generation)
                return generation
        if mode is CacheMode.REPLAY:
            raise CacheMiss(
                f"no recorded response for {spec.display} (cache key {key[:12]}) in "
                f"{self.settings.cache_path}; record it with --promptsuite-cache=use"
            )
        future: asyncio.Future[Generation] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            generation = await self._call(spec, provider, request, tally)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unawaited future logs nothing
            raise
        except BaseException:  # cancelled: whoever waits on it is cancelled too
            future.cancel()
            raise
        else:
            future.set_result(generation)
        finally:
            self._inflight.pop(key, None)
        if self._cache is not None:
            self._cache.put(key, identity, generation)
        return generation

    async def _call(
        self, spec: ModelSpec, provider: Provider, request: GenerateRequest, tally: CallTally
    ) -> Generation:
        if self._global is None:
            self._global = asyncio.Semaphore(self.settings.concurrency)
        limit = self._limit(repr(spec), provider)
        try:
            async with self._global:
                if limit is None:
                    generation = await provider.generate(request)
                else:
                    async with limit:
                        generation = await provider.generate(request)
        except ModelError as err:
            self._count_requests(spec, err.requests, err.requests)
            tally.gave_up(err)
            raise
        self._count_requests(spec, 1 + generation.retried, generation.retried)
        tally.answered(generation)
        return generation

    def _count_requests(self, spec: ModelSpec, sent: int, failed: int) -> None:
        self.stats.model_calls += sent
        self.stats.failed_calls += failed
        self.stats.by_provider[spec.provider] = self.stats.by_provider.get(spec.provider, 0) + sent

    async def embed(self, spec: ModelSpec, texts: Sequence[str]) -> Embeddings:
        """Embedding vectors of ``texts`` by ``spec``'s model, each text embedded once a run."""
        provider = self.provider(spec)
        identity = json.dumps(provider.embedding_identity(), sort_keys=True)
        missing = list(dict.fromkeys(t for t in texts if (identity, t) not in self._embeddings))
        if missing:
            vectors = await provider.embed(missing)
            for text, vector in zip(missing, vectors, strict=True):
                self._embeddings[identity, text] = vector
        vectors = [self._embeddings[identity, t] for t in texts]
        return Embeddings(vectors, provider.similar_threshold)

    # ------------------------------------------------------------ jobs

    async def run_jobs(self, jobs: Iterable[Job], *, first_repeat: int = 0) -> list[CaseResult]:
        """Run jobs concurrently; results come back in the jobs' order.

        ``first_repeat`` numbers the repeats from there (each repeat's index is in its cache
        key and its seed), so repeats asked in rounds are the ones asked all at once.
        """
        return list(await asyncio.gather(*(self.run_job(job, first_repeat) for job in jobs)))

    async def run_job(self, job: Job, first_repeat: int = 0) -> CaseResult:
        """Run every repeat of one job and reduce them to a case result."""
        variant = job.suite.prompt.variants[job.variant]
        repeats = self.settings.repeat or job.case.repeat
        indices = range(first_repeat, first_repeat + repeats)
        try:
            messages = render_messages(variant.templates, job.case.vars)
        except PromptsuiteError as exc:
            return self._result(
                job,
                [],
                [],
                passed=False,
                score=0.0,
                error=f"{_where(job)}: {exc}",
                error_kind=type(exc).__name__,
            )
        request = GenerateRequest(messages, _params(job))
        if job.case.is_conversation:
            runs = [self._converse(job, messages, request.params, i) for i in indices]
        else:
            runs = [self._sample(job, request, index) for index in indices]
        samples = await asyncio.gather(*runs)
        failed = next((s for s in samples if s.error), None)
        summary = reduce_repeats(
            [s.result.passed for s in samples],
            [s.result.score for s in samples],
            self._reducer(job),
            job.case.min_pass_rate,
        )
        return self._result(
            job,
            [m.to_dict() for m in messages],
            [s.result for s in samples],
            passed=failed is None and summary.passed,
            score=summary.score,
            error=failed.error if failed else None,
            error_kind=failed.error_kind if failed else None,
        )

    def _generate_for(
        self, job: Job, tally: CallTally
    ) -> Callable[[GenerateRequest], Awaitable[Generation]]:
        return lambda request: self.generate(job.model, request, request.repeat, tally)

    def _context(
        self, job: Job, generation: Generation, messages: tuple[Message, ...], index: int
    ) -> CheckContext:
        from promptsuite.checks import CheckContext

        return CheckContext(
            output=generation.text,
            generation=generation,
            vars=job.case.vars,
            messages=messages,
            suite_dir=Path(job.suite.path).parent,
            grade=lambda spec, req: self._grade(job, spec, req),
            embed=lambda spec, texts: self.embed(spec or self.settings.grader or job.model, texts),
            peers=lambda: self._peer_outputs(job, index),
            tool_calls=generation.tool_calls,
            tools=job.suite.prompt.variants[job.variant].tools,
            default_grader=(self.settings.grader or job.model).display,
        )

    async def _sample(self, job: Job, request: GenerateRequest, index: int) -> _Sample:
        from promptsuite.checks import score

        tally = CallTally()
        try:
            reply = await respond(
                self._generate_for(job, tally), request.messages, request.params, index, {}
            )
        except PromptsuiteError as exc:  # model errors, a missing extra, bad provider options
            self.stats.errors += 1
            return _Sample.failed(index, exc, tally)
        generation = reply.generation
        if reply.calls:  # the checks see every call of the round trips
            generation = replace(generation, tool_calls=reply.calls)
        context = self._context(job, generation, request.messages, index)
        try:
            scored = await score(
                job.case.expect, context, job.case.threshold, transform=job.case.transform
            )
        except PromptsuiteError as exc:  # a check or its grader could not be evaluated
            self.stats.errors += 1
            return _Sample.failed(index, exc, tally, generation.text, where=_where(job))
        round_trips = len(reply.generations) > 1
        return _Sample(
            RepeatResult(
                index=index,
                output=generation.text,
                generation=tally.record(),
                checks=list(scored.results),
                passed=scored.passed,
                score=scored.score,
                transcript=(
                    numbered(request.messages, None) + numbered(reply.messages, 1)
                    if round_trips
                    else None
                ),
            )
        )

    async def _converse(
        self, job: Job, base: tuple[Message, ...], params: GenerationParams, index: int
    ) -> _Sample:
        """One run of a conversation: each user turn answered in order, then its checks."""
        from promptsuite.checks import outcome, score

        case = job.case
        messages = list(base)
        transcript = numbered(base, None)
        checks: list[CheckResult] = []
        replies: list[str] = []
        generations: list[Generation] = []
        tally = CallTally()
        user_turn = 0
        try:
            for t, turn in enumerate(case.turns):
                text = render(turn.template, case.vars, what=f"turns[{t}].{turn.role}")
                message = Message(turn.role, text)
                messages.append(message)
                if turn.role == "assistant":
                    transcript += numbered([message], max(user_turn, 1))
                    continue
                user_turn += 1
                transcript += numbered([message], user_turn)
                sent = tuple(messages)
                reply = await respond(
                    self._generate_for(job, tally), sent, params, index, turn.tool_results
                )
                messages.extend(reply.messages)
                transcript += numbered(reply.messages, user_turn)
                generations.extend(reply.generations)
                replies.append(reply.generation.text)
                answer = replace(reply.generation, tool_calls=reply.calls)
                scored = await score(
                    turn.expect,
                    self._context(job, answer, sent, index),
                    None,
                    transform=case.transform,
                )
                checks += [replace(r, turn=user_turn) for r in scored.results]
            whole = total_generation(generations, transcript_output(replies))
            scored = await score(
                case.expect,
                self._context(job, whole, tuple(messages), index),
                None,
                transform=case.transform,
            )
        except PromptsuiteError as exc:
            self.stats.errors += 1
            where = _where(job) + (f", turn {user_turn}" if user_turn else "")
            failed = _Sample.failed(index, exc, tally, where=where)
            return replace(failed, result=replace(failed.result, transcript=transcript))
        checks += scored.results
        passed, value = outcome(tuple(checks), case.threshold)
        return _Sample(
            RepeatResult(
                index=index,
                output=whole.text,
                generation=tally.record(),
                checks=checks,
                passed=passed,
                score=value,
                transcript=transcript,
            )
        )

    async def _peer_outputs(self, job: Job, index: int) -> tuple[list[str], int]:
        """The outputs of every prompt variant of the job's case on its model (this repeat),
        and the job's own position among them; through the cache, so each is made once."""
        outputs = []
        for name in job.suite.variants:
            variant = job.suite.prompt.variants[name]
            messages = render_messages(variant.templates, job.case.vars)
            request = GenerateRequest(messages, _params(job), repeat=index)
            outputs.append((await self.generate(job.model, request, index)).text)
        return outputs, job.suite.variants.index(job.variant)

    async def _grade(
        self, job: Job, spec: ModelSpec | None, request: GenerateRequest
    ) -> Generation:
        grader = spec or self.settings.grader or job.model
        return await self.generate(grader, request)

    def _result(
        self,
        job: Job,
        messages: list[dict[str, Any]],
        repeats: list[RepeatResult],
        *,
        passed: bool,
        score: float,
        error: str | None,
        error_kind: str | None,
    ) -> CaseResult:
        return CaseResult(
            test_id=job.test_id,
            suite=job.suite.name,
            suite_path=job.suite.path,
            case_id=job.case.id,
            model=job.model.display,
            backend=self.provider(job.model).identity(),
            variant=job.variant,
            tags=list(job.case.tags),
            messages=messages,
            repeats=repeats,
            passed=passed,
            score=score,
            error=error,
            error_kind=error_kind,
            reducer=self._reducer(job),
            min_pass_rate=job.case.min_pass_rate,
            threshold=job.case.threshold,
        )

    def _reducer(self, job: Job) -> Reducer:
        """The run's reducer when one was given, else the case's own."""
        return self.settings.reducer or job.case.reducer

    async def aclose(self) -> None:
        """Close every provider and the cache connection."""
        for provider in self._providers.values():
            await provider.aclose()
        if self._cache is not None:
            self._cache.close()


@dataclass(frozen=True)
class _Sample:
    result: RepeatResult
    error: str | None = None
    error_kind: str | None = None

    @classmethod
    def failed(
        cls,
        index: int,
        exc: PromptsuiteError,
        tally: CallTally,
        output: str = "",
        *,
        where: str | None = None,
    ) -> _Sample:
        message = f"{where}: {exc}" if where else str(exc)
        return cls(
            RepeatResult(
                index=index,
                output=output,
                generation=tally.record(),
                checks=[],
                passed=False,
                score=0.0,
                error=message,
            ),
            error=message,
            error_kind=type(exc).__name__,
        )


_LOGPROB_CHECKS = frozenset({"perplexity", "perplexity-score"})


def _params(job: Job) -> GenerationParams:
    """The suite's generation parameters, with the prompt's tools and response format (the
    case's format first), asking for log-probabilities when a check needs them."""
    from promptsuite.checks import uses_type

    params = job.suite.params
    variant = job.suite.prompt.variants[job.variant]
    response_format = job.case.response_format or variant.response_format
    if variant.tools or response_format is not None:
        params = replace(params, tools=variant.tools, response_format=response_format)
    checks = (*job.case.expect, *(c for turn in job.case.turns for c in turn.expect))
    return replace(params, logprobs=True) if uses_type(checks, _LOGPROB_CHECKS) else params


def _where(job: Job) -> str:
    """``suites/x.yaml:12: case 'id'``: where a template or check error is fixed."""
    return f"{job.suite.path}:{job.case.line}: case {job.case.id!r}"
