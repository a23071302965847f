"""The auto search: candidates that need no proposer model, scored by promptsuite's runner.

The default optimizer. It evaluates the user's variant on the validation split (the
baseline), then a schedule of candidates built from the suite itself (``_derived``): labelled
demos from the train split's reference answers, rules read off the checks, the rules the
baseline broke most, and instruction patterns, each time starting from the best candidate so
far. Every candidate is rendered with the user's own template (shared text first, the case's
message last, so a local model reuses its cached prompt prefix) and scored exactly as
``pytest`` would score it. No DSPy is involved; identical candidates are never scored twice.

Candidates race (:mod:`._racing`, unless ``--no-racing``): each is scored in rounds of
validation cases and dropped once it is clearly behind the best so far, and the search stops
once a candidate clearly reached the target on validation or the plateau is decided. The
spending limits (:mod:`._limits`) stop it at a case boundary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from promptsuite.errors import OptimizeError
from promptsuite.models import ModelSpec
from promptsuite.optimize._records import (
    AutoPlan,
    Candidate,
    CaseScore,
    Demo,
    LimitReason,
    ModelUsage,
    OptimizationRun,
    RepairedDemos,
    SearchStop,
    Spend,
    StopReason,
    mean,
)
from promptsuite.optimize._retest import as_case_score
from promptsuite.optimize._shape import PromptShape, candidate_templates
from promptsuite.optimize.analysis import default_window, detect_plateau
from promptsuite.optimize.search._calls import CandidateKey
from promptsuite.optimize.search._derived import (
    PATTERNS,
    RULES_HEADING,
    DemoPlan,
    Rule,
    check_rules,
    failure_rules,
    instruction_with,
    plan_demos,
    repair,
    repaired_plan,
    with_pattern,
)
from promptsuite.optimize.search._limits import Meter
from promptsuite.optimize.search._options import Progress, SearchOptions, SearchSetup
from promptsuite.optimize.search._racing import behind, clearly_reaches, race_order, rounds
from promptsuite.references import Reference, passes
from promptsuite.results import CaseResult, GenerationRecord
from promptsuite.runner import Runner, plan_jobs
from promptsuite.suite import Prompt, ResolvedCase, Suite, Variant

_FAILURE_HEADING = "Most important (replies so far broke these rules):"


@dataclass(frozen=True)
class Proposal:
    """A candidate to score: its instruction, demos, and what proposed it."""

    instruction: str
    demos: tuple[Demo, ...]
    source: str


class AutoSearch:
    """Scores proposals on the validation cases and records each as a candidate.

    With ``racing``, a proposal is scored in rounds and dropped once it is clearly behind
    the best candidate so far (:mod:`._racing`); every case's calls are counted by the
    ``meter``, and scoring stops at a case boundary when a spending limit runs out.
    """

    def __init__(
        self,
        suite: Suite,
        run: OptimizationRun,
        shape: PromptShape,
        model: ModelSpec,
        runner: Runner,
        progress: Progress | None,
        *,
        meter: Meter,
        racing: bool,
        seed: int,
    ) -> None:
        self.suite = suite
        self.run = run
        self.shape = shape
        self.model = model
        self.runner = runner
        self.progress = progress
        self.meter = meter
        self.racing = racing
        self.seed = seed
        val = [c for c in suite.cases if run.split.get(c.id) == "val"]
        self.val = val
        self.order = race_order(val, seed) if racing else val
        self.started = time.perf_counter()
        self.tokens = 0
        #: The spending limit that stopped the search, once one did.
        self.limited: LimitReason | None = None
        #: Candidate index -> what scoring it spent.
        self.spent: dict[int, Spend] = {}
        self._seen = {CandidateKey.of(c.instruction, c.demos) for c in run.candidates}

    def best(self) -> Candidate:
        """The best candidate so far (the first on ties; only fully scored ones compete)."""
        return self.run.best_candidate()

    async def score(self, proposal: Proposal) -> Candidate | None:
        """Score a proposal on the validation cases; None when it was already scored, or
        when a spending limit left no room for a single case.

        Raises:
            OptimizeError: No validation case could be scored (every call failed).
        """
        key = CandidateKey.of(proposal.instruction, proposal.demos)
        if key in self._seen:
            return None
        self._seen.add(key)
        rival = self.best() if self.racing and self.run.candidates else None
        before = self.meter.spend
        scored: dict[str, CaseScore] = {}
        generations: list[GenerationRecord] = []
        errors: list[str] = []
        stopped: str | None = None
        total = len(self.order)
        ends = list(itertools.accumulate(rounds(total))) if self.racing else [total]
        done = 0
        for end in ends:
            while done < end and self.limited is None:
                chunk = self.order[done:end]
                fit, cut = self.meter.fitting(len(chunk), calls_per_case=self._repeats(chunk))
                results = await self._counted(proposal, chunk[:fit])
                done += fit
                scored.update((r.case_id, as_case_score(r, "val")) for r in results)
                generations.extend(g for r in results for g in r.generations)
                errors.extend(r.error for r in results if r.error)
                cut = cut or self.meter.ran_out()
                if cut is not None and done < total:
                    self.limited = cut
            if self.limited is not None:
                stopped = (
                    f"{self.meter.describe(self.limited)} after {done} of {total} validation cases"
                )
                break
            if rival is not None and done < total:
                stopped = behind(rival, list(scored.values()), total, seed=self.seed)
                if stopped is not None:
                    break
        if not scored:
            return None
        if not generations:
            raise OptimizeError(
                f"candidate {proposal.source!r} could not be scored on {self.model.display}: "
                f"{errors[0] if errors else 'no reply was scored'}"
            )
        self.tokens += sum(g.tokens for g in generations if not g.cached)
        prompt_tokens = [g.prompt_tokens for g in generations]
        cases = [scored[c.id] for c in self.val if c.id in scored]
        candidate = Candidate(
            index=len(self.run.candidates),
            source=proposal.source,
            instruction=proposal.instruction,
            demos=list(proposal.demos),
            val_score=mean([s.score for s in cases]),
            cases=cases,
            lm_calls=self.runner.stats.model_calls,
            prompt_model_calls=0,
            tokens=self.tokens,
            prompt_tokens_per_call=sum(prompt_tokens) / len(prompt_tokens),
            elapsed_s=round(time.perf_counter() - self.started, 3),
            val_cases=len(cases),
            stopped=stopped,
        )
        self.spent[candidate.index] = _minus(self.meter.spend, before)
        self.run.candidates.append(candidate)
        if self.progress is not None:
            self.progress(candidate, self.run)
        return candidate

    def per_candidate(self) -> Spend | None:
        """What scoring one candidate on every validation case cost, on average."""
        full = [self.spent[c.index] for c in self.run.candidates if c.complete]
        if not full:
            return None
        costs = [s.cost for s in full]
        return Spend(
            calls=round(mean([s.calls for s in full])),
            tokens=round(mean([s.tokens for s in full])),
            cost=None if None in costs else round(mean([c or 0.0 for c in costs]), 6),
        )

    async def replies(self, instruction: str, cases: Sequence[ResolvedCase]) -> list[CaseResult]:
        """The model's replies to ``cases`` (train cases) under ``instruction``, no demos, as
        many of them as the spending limits leave room for."""
        fit, cut = self.meter.fitting(len(cases), calls_per_case=self._repeats(cases))
        if cut is not None:
            self.limited = cut
        return await self._counted(Proposal(instruction, (), "replies"), cases[:fit])

    def _repeats(self, cases: Sequence[ResolvedCase]) -> int:
        forced = self.runner.settings.repeat
        return max((forced or c.repeat for c in cases), default=1)

    async def _counted(self, proposal: Proposal, cases: Sequence[ResolvedCase]) -> list[CaseResult]:
        if not cases:
            return []
        calls = self.runner.stats.model_calls
        results = await self._run(proposal, cases)
        expected = sum(self.runner.settings.repeat or c.repeat for c in cases)
        self.meter.add(self.model, results, self.runner.stats.model_calls - calls, expected)
        return results

    async def _run(self, proposal: Proposal, cases: Sequence[ResolvedCase]) -> list[CaseResult]:
        name = f"candidate-{len(self.run.candidates)}"
        templates = (
            self.suite.prompt.variants[self.shape.variant].templates
            if proposal.source == "baseline"
            else candidate_templates(self.shape, proposal.instruction, proposal.demos)
        )
        prompt = Prompt(
            self.suite.prompt.name,
            self.suite.prompt.file,
            {name: Variant(name, templates, proposal.source)},
            name,
        )
        trial = dataclasses.replace(self.suite, prompt=prompt, variants=(name,), cases=tuple(cases))
        return await self.runner.run_jobs(plan_jobs(trial, [self.model]))

    def stop_after(self, candidate: Candidate, options: SearchOptions) -> SearchStop | None:
        """Whether the search stops after ``candidate``: a spending limit ran out, or (when
        racing) the target was clearly reached on validation or the plateau is decided."""
        run = self.run
        if self.limited is not None:
            return self.limit_stop()
        if not self.racing:
            return None
        reached = clearly_reaches(candidate, options.target)
        if reached is not None and candidate.index == self.best().index:
            return self._stop("target", reached)
        candidates = run.candidates
        plateau = detect_plateau(
            [c.index for c in candidates],
            [c.val_score for c in candidates],
            [{s.case_id: s.score for s in c.cases} for c in candidates],
            window=default_window(run.budget, len(candidates)),
            seed=options.seed,
            complete=[c.complete for c in candidates],
        )
        if plateau.plateaued:
            return self._stop("plateau", plateau.reason)
        return None

    def limit_stop(self) -> SearchStop:
        """The stop of a spending limit that ran out (:attr:`limited`)."""
        assert self.limited is not None
        return self._stop(self.limited, self.meter.describe(self.limited))

    def _stop(self, reason: StopReason, detail: str) -> SearchStop:
        return SearchStop(
            reason=reason,
            detail=detail,
            candidates=len(self.run.candidates),
            spent=self.meter.spend,
            per_candidate=self.per_candidate(),
        )


def _minus(after: Spend, before: Spend) -> Spend:
    cost = None if after.cost is None or before.cost is None else after.cost - before.cost
    return Spend(
        calls=after.calls - before.calls,
        tokens=after.tokens - before.tokens,
        cost=None if cost is None else round(cost, 6),
    )


def auto_search(
    setup: SearchSetup,
    options: SearchOptions,
    meter: Meter,
    *,
    budget: int | None = None,
) -> SearchStop | None:
    """Score the baseline and up to ``budget`` proposals (default ``options.budget``),
    recording each in the setup's run.

    Args:
        setup: The suite, the run, the starting variant, the train references, the model.
        options: The search's options (budget, target, seed, max demos, racing, runner
            settings).
        meter: What the run spent so far, against its spending limits.
        budget: Proposals to score besides the baseline (default ``options.budget``).

    Returns:
        Why the search stopped before its budget, if it did.

    Raises:
        OptimizeError: The baseline could not be scored.
    """
    suite, run, shape, references = setup.suite, setup.run, setup.shape, setup.references
    train = [c for c in suite.cases if run.split.get(c.id) == "train"]
    leaked = sorted(c for c in references if run.split.get(c) != "train")
    if leaked:
        raise OptimizeError(f"references of non-train cases reached the search: {leaked}")
    runner = Runner(options.settings)
    search = AutoSearch(
        suite,
        run,
        shape,
        setup.model,
        runner,
        setup.progress,
        meter=meter,
        racing=options.racing,
        seed=options.seed,
    )
    stop: SearchStop | None = None

    async def search_all() -> None:
        nonlocal stop
        try:
            baseline = await search.score(Proposal(shape.instruction, (), "baseline"))
            if baseline is None:
                raise OptimizeError(
                    "the spending limits left no room to score your prompt on one validation case"
                )
            stop = search.stop_after(baseline, options)
            if stop is not None:
                return
            plan = plan_demos(train, references, max_demos=options.max_demos, seed=options.seed)
            rules = check_rules(train, references)
            repaired: RepairedDemos | None = None
            if not plan.main and options.max_demos > 0:
                ruled = instruction_with(shape.instruction, rules, RULES_HEADING)
                demos, repaired = await _repaired_demos(search, ruled, train, options)
                plan = repaired_plan(demos)
            run.auto = AutoPlan(
                demo_kind=plan.kind,
                labels=list(plan.labels),
                rules=[r.text for r in rules],
                patterns=[p.name for p in PATTERNS],
                repaired=repaired,
            )
            scored = 0
            limit = options.budget if budget is None else budget
            for proposal in _schedule(search, plan, rules, options, train, references):
                if scored >= limit or search.limited is not None:
                    break
                candidate = await search.score(proposal)
                if candidate is not None:
                    scored += 1
                    stop = search.stop_after(candidate, options)
                    if stop is not None:
                        return
            if search.limited is not None:
                stop = search.limit_stop()
        finally:
            await runner.aclose()

    asyncio.run(search_all())
    run.task_model_usage = ModelUsage(
        calls=runner.stats.model_calls,
        cache_hits=runner.stats.cache_hits,
        tokens=search.tokens,
        errors=runner.stats.errors,
    )
    return stop


def _schedule(
    search: AutoSearch,
    plan: DemoPlan,
    rules: Sequence[Rule],
    options: SearchOptions,
    train: Sequence[ResolvedCase],
    references: Mapping[str, Reference],
) -> Iterator[Proposal]:
    """The proposals in the order they are tried; later ones start from the best so far."""
    original = search.shape.instruction
    ruled = instruction_with(original, rules, RULES_HEADING)
    label = "repaired demos" if plan.kind == "repaired" else "demos"
    if plan.main:
        yield Proposal(original, plan.main, label)
    if rules:
        yield Proposal(ruled, plan.main, f"rules+{label}" if plan.main else "rules")
        if plan.main:
            yield Proposal(ruled, (), "rules")
    failed = _failed_checks(search.run.candidates[0].cases)
    if rules and failed:
        top = failure_rules(rules, failed)
        best = search.best()
        yield Proposal(
            instruction_with(best.instruction, top, _FAILURE_HEADING),
            tuple(best.demos),
            "failures" + ("+demos" if best.demos else ""),
        )
    for pattern in PATTERNS:
        best = search.best()
        if pattern.needs_demos and not best.demos:
            continue
        yield Proposal(
            with_pattern(best.instruction, pattern),
            tuple(best.demos),
            f"pattern:{pattern.name}" + ("+demos" if best.demos else ""),
        )
    for demos, source in ((plan.small, "fewer demos"), (plan.alternate, "other demos")):
        if demos:
            yield Proposal(search.best().instruction, demos, source)
    # What is left of the budget goes to further draws of demos for the best instruction.
    for seed in range(1, options.budget + 1):
        draw = plan_demos(train, references, max_demos=options.max_demos, seed=options.seed + seed)
        if draw.main:
            yield Proposal(search.best().instruction, draw.main, f"demos (draw {seed + 1})")


async def _repaired_demos(
    search: AutoSearch, instruction: str, train: Sequence[ResolvedCase], options: SearchOptions
) -> tuple[list[Demo], RepairedDemos]:
    """Demos from the model's own replies to train cases, trimmed to the checks' format and
    kept only when the case's checks pass them (for suites without reference answers); and
    how many were asked and kept."""
    wanted = options.max_demos
    asked = list(train[: 2 * wanted])
    demos: list[Demo] = []
    for case, result in zip(asked, await search.replies(instruction, asked), strict=True):
        if result.error or not result.repeats:
            continue
        fixed = repair(result.repeats[0].output, case.expect)
        if fixed and await passes(fixed, case, search.suite):
            demos.append(Demo(vars=dict(case.vars), output=fixed))
        if len(demos) == wanted:
            break
    return demos, RepairedDemos(asked=len(asked), kept=len(demos))


def _failed_checks(scores: Sequence[CaseScore]) -> Counter[str]:
    """How often each check type failed in these case scores."""
    counts: Counter[str] = Counter()
    for score in scores:
        for name in score.failed_checks:
            counts[name.split(" (")[0].removeprefix("not-")] += 1
    return counts
