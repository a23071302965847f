"""The auto search: candidates that need no proposer model, scored by promptsuite's runner.

The default optimizer. It evaluates the user's variant on the validation split (the
baseline), then a schedule of candidates built from the suite itself (``_derived``): labelled
demos from the train split's reference answers, rules read off the checks, the rules the
baseline broke most, and instruction patterns, each time starting from the best candidate so
far. Every candidate is rendered with the user's own template (shared text first, the case's
message last, so a local model reuses its cached prompt prefix) and scored exactly as
``pytest`` would score it. No DSPy is involved; identical candidates are never scored twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
    ModelUsage,
    OptimizationRun,
    RepairedDemos,
    mean,
)
from promptsuite.optimize._retest import as_case_score
from promptsuite.optimize._shape import PromptShape, candidate_templates
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
from promptsuite.optimize.search._options import Progress, SearchOptions, SearchSetup
from promptsuite.references import Reference, passes
from promptsuite.results import CaseResult
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
    """Scores proposals on the validation cases and records each as a candidate."""

    def __init__(
        self,
        suite: Suite,
        run: OptimizationRun,
        shape: PromptShape,
        model: ModelSpec,
        runner: Runner,
        progress: Progress | None,
    ) -> None:
        self.suite = suite
        self.run = run
        self.shape = shape
        self.model = model
        self.runner = runner
        self.progress = progress
        self.val = [c for c in suite.cases if run.split.get(c.id) == "val"]
        self.started = time.perf_counter()
        self.tokens = 0
        self._seen = {CandidateKey.of(c.instruction, c.demos) for c in run.candidates}

    def best(self) -> Candidate:
        """The best candidate so far (the first on ties)."""
        return min(self.run.candidates, key=lambda c: (-c.val_score, c.index))

    async def score(self, proposal: Proposal) -> Candidate | None:
        """Score a proposal on the validation cases; None when it was already scored.

        Raises:
            OptimizeError: No validation case could be scored (every call failed).
        """
        key = CandidateKey.of(proposal.instruction, proposal.demos)
        if key in self._seen:
            return None
        self._seen.add(key)
        results = await self._run(proposal)
        scored = [as_case_score(r, "val") for r in results]
        generations = [g for r in results for g in r.generations]
        if not generations:
            errors = next((r.error for r in results if r.error), "no reply was scored")
            raise OptimizeError(
                f"candidate {proposal.source!r} could not be scored on {self.model.display}: "
                f"{errors}"
            )
        self.tokens += sum(g.tokens for g in generations if not g.cached)
        prompt_tokens = [g.prompt_tokens for g in generations]
        candidate = Candidate(
            index=len(self.run.candidates),
            source=proposal.source,
            instruction=proposal.instruction,
            demos=list(proposal.demos),
            val_score=mean([s.score for s in scored]),
            cases=scored,
            lm_calls=self.runner.stats.model_calls,
            prompt_model_calls=0,
            tokens=self.tokens,
            prompt_tokens_per_call=sum(prompt_tokens) / len(prompt_tokens),
            elapsed_s=round(time.perf_counter() - self.started, 3),
        )
        self.run.candidates.append(candidate)
        if self.progress is not None:
            self.progress(candidate, self.run)
        return candidate

    async def replies(self, instruction: str, cases: Sequence[ResolvedCase]) -> list[CaseResult]:
        """The model's replies to ``cases`` (train cases) under ``instruction``, no demos."""
        return await self._run(Proposal(instruction, (), "replies"), cases)

    async def _run(
        self, proposal: Proposal, cases: Sequence[ResolvedCase] | None = None
    ) -> list[CaseResult]:
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
        trial = dataclasses.replace(
            self.suite,
            prompt=prompt,
            variants=(name,),
            cases=tuple(self.val if cases is None else cases),
        )
        return await self.runner.run_jobs(plan_jobs(trial, [self.model]))


def auto_search(setup: SearchSetup, options: SearchOptions, *, budget: int | None = None) -> None:
    """Score the baseline and up to ``budget`` proposals (default ``options.budget``),
    recording each in the setup's run.

    Args:
        setup: The suite, the run, the starting variant, the train references, the model.
        options: The search's options (budget, target, seed, max demos, runner settings).
        budget: Proposals to score besides the baseline (default ``options.budget``).

    Raises:
        OptimizeError: The baseline could not be scored.
    """
    suite, run, shape, references = setup.suite, setup.run, setup.shape, setup.references
    train = [c for c in suite.cases if run.split.get(c.id) == "train"]
    leaked = sorted(c for c in references if run.split.get(c) != "train")
    if leaked:
        raise OptimizeError(f"references of non-train cases reached the search: {leaked}")
    runner = Runner(options.settings)
    search = AutoSearch(suite, run, shape, setup.model, runner, setup.progress)

    async def search_all() -> None:
        try:
            await search.score(Proposal(shape.instruction, (), "baseline"))
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
                if scored >= limit:
                    break
                if await search.score(proposal) is not None:
                    scored += 1
        finally:
            await runner.aclose()

    asyncio.run(search_all())
    run.task_model_usage = ModelUsage(
        calls=runner.stats.model_calls,
        cache_hits=runner.stats.cache_hits,
        tokens=search.tokens,
        errors=runner.stats.errors,
    )


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
