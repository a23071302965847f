"""The sampling stage: reference answers for train cases that have none, by rejection sampling.

Most real prompts are open-ended (a support reply, a summary): their checks accept many
replies and pin down none, so no reference answer can be stated or derived. This stage asks
the task model for K replies to each such **train** case (``--samples K``, at a sampling
temperature, seeded), scores each with the case's own checks exactly as ``pytest`` would
(model-graded ones with the suite's grader), and keeps the best passing reply as the case's
reference (DSPy's bootstrapping idea: a demo is a trace that passed the metric). When no reply
passed as written, a reply trimmed to the checks' format (its first line or sentence, the word
limit: :func:`~promptsuite.optimize.search._derived.repair`, shape only, never content) that
then passes is kept instead, marked as repaired. Where none of the task model's replies
passed and a ``--teacher`` model is given, the teacher is asked for K replies the same way.
Validation and test cases are never sampled.

While no reply has passed, the samples are drawn a round at a time, and the stage stops as
soon as the failures settle a gap (:func:`_settled`): the rounds left could not give half the
cases a passing reply.

The same replies measure the model's consistency: the reply at the suite's own temperature
(pass@1), the K samples (pass@k, and each case's pass rate). Every call goes through
promptsuite's runner and its cache, so a re-run costs nothing, and is counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from promptsuite.config import RunSettings
from promptsuite.models import ModelSpec
from promptsuite.optimize._records import ModelUsage, SampledCase, Sampling
from promptsuite.optimize.analysis import GAP_SHARE
from promptsuite.optimize.search._derived import repair
from promptsuite.optimize.search._limits import Meter
from promptsuite.references import text_score
from promptsuite.results import CaseResult
from promptsuite.runner import Runner, plan_jobs
from promptsuite.stats import wilson_interval
from promptsuite.suite import Prompt, ResolvedCase, Suite, Variant

__all__ = [
    "DEFAULT_SAMPLES",
    "DEFAULT_SAMPLE_TEMPERATURE",
    "SamplingOptions",
    "sample_references",
    "sampling_cost",
]

#: Samples per train case without a reference (``--samples``).
DEFAULT_SAMPLES = 4
#: The temperature of the samples (``--sample-temperature``).
DEFAULT_SAMPLE_TEMPERATURE = 0.7


@dataclass(frozen=True)
class SamplingOptions:
    """How the sampling stage samples.

    Attributes:
        samples: Replies per train case without a reference (K); 0 turns the stage off.
        temperature: Their sampling temperature.
        teacher: A stronger model asked (K replies) where no task-model reply passed.
        early_stop: Stop drawing samples once no reply passed and the rest could not give
            half the cases a passing one (the gap is settled); off with ``--no-racing``.
    """

    samples: int = DEFAULT_SAMPLES
    temperature: float = DEFAULT_SAMPLE_TEMPERATURE
    teacher: ModelSpec | None = None
    early_stop: bool = True


@dataclass(frozen=True)
class _Reply:
    sample: int  # -1: the reply at the suite's own temperature
    output: str
    passed: bool
    score: float
    failed: tuple[str, ...]


def sampling_cost(cases: int, options: SamplingOptions) -> int:
    """The most task-model calls the stage makes for ``cases`` (each cached call is free)."""
    return cases * (options.samples + 1)


def sample_references(
    suite: Suite,
    cases: Sequence[ResolvedCase],
    model: ModelSpec,
    options: SamplingOptions,
    *,
    seed: int,
    settings: RunSettings,
    variant: Variant | None = None,
    rules: Sequence[str] = (),
    meter: Meter | None = None,
    reserve: int = 0,
) -> Sampling:
    """Sample the train ``cases`` (those without a reference) and keep their best passing replies.

    Args:
        suite: The suite (its prompt's first variant renders each case, its params set the
            reply at the suite's temperature; the samples use ``options.temperature``).
        cases: Train cases without a stated or derived reference (a conversation is skipped).
        model: The task model.
        options: Samples, temperature and teacher.
        seed: Seed of the samples.
        settings: The runner's settings (cache, concurrency, grader).
        variant: The prompt variant every reply is asked with (default: the suite's first).
        rules: The rules that variant adds to your instruction, for the record.
        meter: What the run spent so far against its spending limits: the stage samples the
            cases in turn, as many as fit, and stops at a case boundary (None: no limits).
        reserve: Calls to leave for after the stage (scoring your prompt on validation).

    Returns:
        The stage's record: each case's replies' passes, the reference kept, the cost.
    """
    started = time.perf_counter()
    if variant is not None:
        prompt = suite.prompt
        suite = dataclasses.replace(
            suite,
            prompt=Prompt(prompt.name, prompt.file, {variant.name: variant}, variant.name),
            variants=(variant.name,),
        )
    skipped = {c.id: "a conversation (its references are per turn)" for c in cases if c.turns}
    single = [c for c in cases if not c.turns]
    samples = options.samples
    task_usage, teacher_usage = ModelUsage(), ModelUsage()
    sampled: list[SampledCase] = []
    stopped: str | None = None
    settled: str | None = None

    async def run() -> None:
        nonlocal task_usage, teacher_usage, stopped, settled
        # One runner (one model instance, one cache) for both passes; the case's repeat
        # count says how many replies each pass asks for.
        runner = Runner(dataclasses.replace(settings, repeat=None))
        greedy: list[CaseResult] = []
        drawn: list[CaseResult] = []
        try:
            while len(greedy) < len(single):
                left = single[len(greedy) :]
                fit, cut = (
                    meter.fitting(len(left), calls_per_case=1 + samples, reserve=reserve)
                    if meter is not None
                    else (len(left), None)
                )
                asked = left[:fit]
                calls = runner.stats.model_calls
                first = await _replies(runner, suite, asked, model, None, seed, 1)
                draws, why = await _draw(runner, suite, asked, model, options, seed, first)
                greedy += first
                drawn += draws
                settled = settled or why
                if meter is not None:
                    fresh = runner.stats.model_calls - calls
                    meter.add(
                        model,
                        [*first, *draws],
                        fresh,
                        sum(1 + len(d.repeats) for d in draws),
                    )
                    cut = cut or (meter.ran_out() if len(greedy) < len(single) else None)
                if cut is not None:
                    assert meter is not None
                    stopped = f"{meter.describe(cut)} after {len(greedy)} of {len(single)} cases"
                    break
        finally:
            await runner.aclose()
        task_usage = _usage(runner, [*greedy, *drawn])
        done = single[: len(greedy)]
        for case in single[len(greedy) :]:
            skipped[case.id] = f"not sampled: {stopped}"
        pending = {
            case.id: await _case(case, g, d, suite)
            for case, g, d in zip(done, greedy, drawn, strict=True)
        }
        unsolved = [c for c in done if pending[c.id].reference is None]
        teacher = options.teacher
        if teacher is not None and unsolved and meter is not None:
            fit, cut = meter.fitting(len(unsolved), calls_per_case=samples, reserve=reserve)
            unsolved = unsolved[:fit]
            if cut is not None:
                stopped = stopped or (
                    f"{meter.describe(cut)}: the teacher was asked {fit} of the cases "
                    "the model never passed"
                )
        if teacher is not None and unsolved:
            teacher_runner = Runner(dataclasses.replace(settings, repeat=None))
            try:
                taught = await _replies(
                    teacher_runner, suite, unsolved, teacher, options.temperature, seed, samples
                )
            finally:
                await teacher_runner.aclose()
            teacher_usage = _usage(teacher_runner, taught)
            if meter is not None:
                meter.add(
                    teacher, taught, teacher_runner.stats.model_calls, len(unsolved) * samples
                )
            for case, result in zip(unsolved, taught, strict=True):
                pending[case.id] = await _with_teacher(pending[case.id], case, result, suite)
        sampled.extend(pending[c.id] for c in done)

    if single and samples > 0:
        asyncio.run(run())
    return Sampling(
        model=model.display,
        teacher=options.teacher.display if options.teacher is not None else None,
        samples=samples,
        temperature=options.temperature,
        seed=seed,
        rules=list(rules),
        cases=sampled,
        skipped=skipped,
        stopped=stopped,
        settled=settled,
        usage=task_usage,
        teacher_usage=teacher_usage,
        wall_s=round(time.perf_counter() - started, 3),
    )


async def _replies(
    runner: Runner,
    suite: Suite,
    cases: Sequence[ResolvedCase],
    model: ModelSpec,
    temperature: float | None,
    seed: int,
    repeats: int,
    *,
    first: int = 0,
) -> list[CaseResult]:
    """``repeats`` replies to each case under the suite's first variant (its own params when
    ``temperature`` is None, else that temperature and ``seed``), numbered from ``first``."""
    params = (
        suite.params
        if temperature is None
        else dataclasses.replace(suite.params, temperature=temperature, seed=seed)
    )
    asked = tuple(dataclasses.replace(c, repeat=repeats, min_pass_rate=None) for c in cases)
    trial = dataclasses.replace(suite, params=params, variants=suite.variants[:1], cases=asked)
    return await runner.run_jobs(plan_jobs(trial, [model]), first_repeat=first)


async def _draw(
    runner: Runner,
    suite: Suite,
    cases: Sequence[ResolvedCase],
    model: ModelSpec,
    options: SamplingOptions,
    seed: int,
    greedy: Sequence[CaseResult],
) -> tuple[list[CaseResult], str | None]:
    """The K samples of each case, and why fewer were drawn, if they were.

    With ``options.early_stop``, the samples are drawn one round at a time (one per case)
    for as long as no reply of any case has passed: once enough replies failed that, at any
    pass rate their 95% interval allows, K samples would give fewer than half the cases one
    passing reply, the gap is settled and the remaining rounds are not drawn. The first
    passing reply ends the rounds and the rest of the K are drawn at once. The samples of a
    round are numbered as the same samples drawn at once (same seeds, same cache entries).
    """
    samples = options.samples
    if not options.early_stop or _passed_any(greedy):
        drawn = await _replies(runner, suite, cases, model, options.temperature, seed, samples)
        return drawn, None
    rounds: list[list[CaseResult]] = []
    why: str | None = None
    while len(rounds) < samples and why is None:
        rounds.append(
            await _replies(
                runner, suite, cases, model, options.temperature, seed, 1, first=len(rounds)
            )
        )
        if _passed_any(rounds[-1]):
            rest = samples - len(rounds)
            if rest:
                rounds.append(
                    await _replies(
                        runner, suite, cases, model, options.temperature, seed, rest,
                        first=len(rounds),
                    )
                )  # fmt: skip
            break
        # A reply that errored says nothing of the model: only failed checks settle a gap.
        errored = _errored([*greedy, *(result for one in rounds for result in one)])
        why = None if errored else _settled(len(cases), len(rounds), samples)
    return [_merged(parts) for parts in zip(*rounds, strict=True)], why


def _passed_any(results: Sequence[CaseResult]) -> bool:
    return any(r.passed and not r.error for result in results for r in result.repeats)


def _errored(results: Sequence[CaseResult]) -> bool:
    return any(r.error for result in results for r in result.repeats)


def _settled(cases: int, drawn: int, samples: int) -> str | None:
    """Why no more samples are drawn once ``drawn`` rounds over ``cases`` all failed, if
    they are not: the 95% Wilson bound of the pass rate says that K samples would give a
    passing reply to too few cases for anything but a gap (:data:`GAP_SHARE`)."""
    failed = cases * drawn
    high = wilson_interval(0, failed)[1]
    reach = 1 - (1 - high) ** samples
    if reach >= 1 - GAP_SHARE:
        return None
    return (
        f"none of {cases} replies at the suite's temperature and {failed} samples passed "
        f"(a pass rate of at most {high:.0%}, 95% CI); {samples} samples would give at most "
        f"{reach:.0%} of the cases a passing reply, so the gap is settled after {drawn} "
        f"of {samples} samples (--no-racing draws them all)"
    )


def _merged(parts: Sequence[CaseResult]) -> CaseResult:
    """One case's samples from several rounds, as one result."""
    first = parts[0]
    if len(parts) == 1:
        return first
    repeats = [r for part in parts for r in part.repeats]
    return dataclasses.replace(
        first,
        repeats=repeats,
        passed=all(p.passed for p in parts),
        score=sum(r.score for r in repeats) / len(repeats),
        error=next((p.error for p in parts if p.error), None),
        error_kind=next((p.error_kind for p in parts if p.error), None),
    )


def _usage(runner: Runner, results: Sequence[CaseResult]) -> ModelUsage:
    generations = [g for r in results for g in r.generations if not g.cached]
    stats = runner.stats
    return ModelUsage(
        calls=stats.model_calls,
        cache_hits=stats.cache_hits,
        tokens=sum(g.tokens for g in generations),
        errors=stats.errors,
    )


def _replies_of(result: CaseResult, *, greedy: bool) -> list[_Reply]:
    return [
        _Reply(
            -1 if greedy else r.index,
            r.output,
            r.passed and not r.error,
            r.score,
            tuple(c.name for c in r.checks if not c.passed),
        )
        for r in result.repeats
    ]


async def _best(
    replies: Sequence[_Reply], case: ResolvedCase, suite: Suite
) -> tuple[_Reply | None, bool]:
    """The passing reply with the highest score (the earliest on ties); else the first reply
    that passes once repaired; and whether it was repaired."""
    passing = [r for r in replies if r.passed and r.output.strip()]
    if passing:
        return max(passing, key=lambda r: r.score), False
    for reply in replies:
        fixed = repair(reply.output, case.expect)
        if not fixed or fixed == reply.output.strip():
            continue
        passed, score = await text_score(fixed, case, suite)
        if passed:
            return dataclasses.replace(reply, output=fixed, passed=True, score=score), True
    return None, False


async def _case(
    case: ResolvedCase, greedy: CaseResult, drawn: CaseResult, suite: Suite
) -> SampledCase:
    first = _replies_of(greedy, greedy=True)
    samples = _replies_of(drawn, greedy=False)
    best, repaired = await _best([*first, *samples], case, suite)
    failed = Counter(name for reply in (*first, *samples) for name in reply.failed)
    return SampledCase(
        case_id=case.id,
        tags=list(case.tags),
        greedy_passed=first[0].passed if first and not greedy.error else None,
        passes=[r.passed for r in samples],
        scores=[r.score for r in samples],
        reference=best.output if best else None,
        source="sampled" if best else None,
        sample=best.sample if best else None,
        repaired=repaired,
        reference_score=best.score if best else None,
        failed_checks=dict(failed.most_common()),
        tried=len(first) + len(samples),
    )


async def _with_teacher(
    case: SampledCase, resolved: ResolvedCase, taught: CaseResult, suite: Suite
) -> SampledCase:
    replies = _replies_of(taught, greedy=False)
    best, repaired = await _best(replies, resolved, suite)
    update: dict[str, object] = {
        "teacher_passes": [r.passed for r in replies],
        "tried": case.tried + len(replies),
    }
    if best is not None:
        update.update(
            reference=best.output,
            source="teacher",
            sample=best.sample,
            repaired=repaired,
            reference_score=best.score,
        )
    return case.model_copy(update=update)
