"""The search: a DSPy optimizer over a suite's prompt, every candidate recorded.

``run_search`` splits the cases, evaluates the user's own variant on the validation split
(candidate 0, the baseline), then lets the chosen DSPy optimizer propose candidates. The
metric sees each scored prediction together with the candidate that produced it; once a
candidate has a score for every validation case it is recorded as a
:class:`~promptsuite.optimize._records.Candidate`, with the calls and tokens spent so far,
and reported to the progress callback. The test split is never given to the optimizer.

At about 550 lines it stays whole: it is the search's driver, the stages before and around
an optimizer (split, references, sampling, spending limits, the run record), each short and
in the order they run; the optimizers themselves live in their own modules.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from promptsuite.errors import ConfigError, MissingDependency, OptimizeError
from promptsuite.models import ModelSpec
from promptsuite.optimize._records import (
    Candidate,
    CaseScore,
    Demo,
    DspySearch,
    OptimizationRun,
    ReferenceSummary,
    Sampling,
    SearchSettings,
    SearchStop,
    mean,
)
from promptsuite.optimize._references import own_references, sampled_reference
from promptsuite.optimize._shape import PromptShape, candidate_templates, shape_of
from promptsuite.optimize.search import _calls
from promptsuite.optimize.search._auto import auto_search
from promptsuite.optimize.search._derived import RULES_HEADING, check_rules, instruction_with
from promptsuite.optimize.search._limits import Meter
from promptsuite.optimize.search._optimizers import (
    PROMPT_MAX_TOKENS,
    RUNNERS,
    OptimizerContext,
)
from promptsuite.optimize.search._options import (
    JOINING,
    OPTIMIZE_INSTALL,
    OPTIMIZERS,
    Progress,
    SearchOptions,
    SearchSetup,
)
from promptsuite.optimize.search._sampling import sample_references, sampling_cost
from promptsuite.optimize.search._split import split_cases
from promptsuite.references import Reference
from promptsuite.suite import ResolvedCase, Suite, Variant


@dataclass
class SearchOutcome:
    """What a search leaves behind: the run record and the shape it started from."""

    run: OptimizationRun
    shape: PromptShape


class Recorder:
    """Collects scored predictions per candidate; records a candidate once val is complete."""

    def __init__(
        self,
        run: OptimizationRun,
        cases: dict[str, ResolvedCase],
        usage: Callable[[], tuple[int, int, int]],
        progress: Progress | None,
    ) -> None:
        self.run = run
        self.cases = cases
        self.val_ids = [case_id for case_id, split in run.split.items() if split == "val"]
        self.usage = usage
        self.progress = progress
        self.source = "baseline"
        self.started = time.perf_counter()
        self._scores: dict[Any, dict[str, CaseScore]] = {}
        self._prompt_tokens: dict[Any, list[int]] = {}
        # Candidates already recorded (the auto search's) are not recorded twice.
        self._recorded: set[Any] = {
            _calls.CandidateKey.of(c.instruction, c.demos) for c in run.candidates
        }
        self._lock = threading.Lock()

    def observe(self, case: ResolvedCase, outcome: Any, record: Any) -> None:
        """One scored prediction (the metric calls this)."""
        if record is None or self.run.split.get(case.id) != "val":
            return
        key = record.key
        score = CaseScore(
            case_id=case.id,
            split="val",
            tags=list(case.tags),
            scores=[outcome.score],
            passes=[outcome.passed],
            output=outcome.output,
            failed_checks=list(getattr(outcome, "failed_checks", ())),
        )
        with self._lock:
            if key in self._recorded:
                return
            self._scores.setdefault(key, {})[case.id] = score
            if record.generation is not None:
                self._prompt_tokens.setdefault(key, []).append(record.generation.prompt_tokens)
            scores = self._scores[key]
            if not all(case_id in scores for case_id in self.val_ids):
                return
            self._recorded.add(key)
            candidate = self._candidate(key, [scores[case_id] for case_id in self.val_ids])
            self.run.candidates.append(candidate)
        if self.progress is not None:
            self.progress(candidate, self.run)

    def _candidate(self, key: Any, cases: list[CaseScore]) -> Candidate:
        lm_calls, prompt_calls, tokens = self.usage()
        prompt_tokens = self._prompt_tokens.get(key, [])
        return Candidate(
            index=len(self.run.candidates),
            source=self.source,
            instruction=key.instruction,
            demos=key.demo_records(),
            val_score=mean([c.score for c in cases]),
            cases=cases,
            lm_calls=lm_calls,
            prompt_model_calls=prompt_calls,
            tokens=tokens,
            prompt_tokens_per_call=sum(prompt_tokens) / len(prompt_tokens) if prompt_tokens else 0,
            elapsed_s=round(time.perf_counter() - self.started, 3),
        )


def import_dspy() -> Any:
    """Import DSPy offline-safe.

    Raises:
        MissingDependency: DSPy is not installed.
    """
    # LiteLLM (imported by DSPy) fetches its model price map over the network unless told
    # to use its bundled copy.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import dspy
    except ImportError as exc:
        raise MissingDependency("DSPy (the optimizer)", OPTIMIZE_INSTALL) from exc
    return dspy


def run_search(
    suite: Suite,
    options: SearchOptions,
    *,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
) -> SearchOutcome:
    """Search prompt variants of a suite's first prompt variant.

    The cases are split (seeded, stratified by tag); only train cases' reference answers
    ever reach a candidate, as labelled demos: stated or derived
    (:func:`promptsuite.references.case_references`), else the best passing reply of the
    sampling stage (:mod:`._sampling`, ``options.sampling``). ``auto`` (the default) needs
    no proposer model; with a ``prompt_model`` other than the task model, the proposals of
    ``options.joins`` (COPRO by default, or MIPROv2, GEPA) then join the same search,
    starting from the best candidate, for half the budget. The DSPy optimizers run as
    before, with the train references as labelled demos.

    Args:
        suite: The loaded suite.
        options: What to search with.
        progress: Called with each candidate as it is recorded.
        say: Told what the sampling stage will cost before it runs, and what it cost.

    Returns:
        The run (split, candidates in evaluation order, usage) and the starting shape.

    Raises:
        ConfigError: bad options, or a suite the optimizer cannot use.
        MissingDependency: DSPy (or optuna for mipro) is missing.
        OptimizeError: the baseline could not be evaluated (model errors).
    """
    if options.optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer {options.optimizer!r} is not one of: {', '.join(OPTIMIZERS)}")
    if options.budget < 1:
        raise ConfigError(f"budget must be at least 1, got {options.budget}")
    if options.joins not in JOINING:
        raise ConfigError(f"--joins {options.joins!r} is not one of: {', '.join(JOINING)}")
    model = options.model or suite.models[0]
    prompt_model = options.prompt_model or model
    teacher = options.sampling.teacher
    meter = Meter(
        options.limits,
        list(dict.fromkeys([model, prompt_model, *([teacher] if teacher else [])])),
    )
    variant = suite.variants[0]
    shape = shape_of(suite.prompt.variants[variant], where=suite.prompt.file or suite.path)
    split = split_cases(suite.cases, seed=options.seed, fractions=options.fractions)
    train = [case for case in suite.cases if split[case.id] == "train"]
    references, unlabelled = own_references(suite, train)
    # The sampling stage leaves room for scoring your prompt on validation.
    reserve = sum(options.settings.repeat or c.repeat for c in suite.cases if split[c.id] == "val")
    sampling = _sample(
        suite, shape, train, references, unlabelled, model, options, say, meter, reserve
    )
    racing = options.racing and options.optimizer == "auto"
    run = OptimizationRun(
        suite=suite.name,
        suite_path=suite.path,
        prompt_path=suite.prompt.file or suite.path,
        model=model.display,
        prompt_model=prompt_model.display,
        optimizer=options.optimizer,
        seed=options.seed,
        budget=options.budget,
        target=options.target,
        split=split,
        settings=SearchSettings(
            variant=variant,
            adapter=options.adapter,
            fractions=options.fractions,
            max_demos=options.max_demos,
            params=suite.params,
            racing=racing,
            limits=options.limits,
        ),
        references=reference_summary(references, unlabelled),
        sampling=sampling,
    )
    started = time.perf_counter()
    setup = SearchSetup(suite, run, shape, references, model, progress)
    if options.optimizer == "auto":
        # With a proposer of its own, half the budget goes to its instruction proposals.
        proposer = prompt_model != model
        stop = auto_search(
            setup, options, meter, budget=max(1, options.budget // 2) if proposer else None
        )
        left = options.budget - (len(run.candidates) - 1)
        # A flat plateau of the auto schedule hands over to the proposer's instructions.
        if proposer and left > 0 and (stop is None or stop.reason == "plateau"):
            stop = None
            best = run.best_candidate()
            _dspy_search(
                dataclasses.replace(
                    setup, shape=dataclasses.replace(shape, instruction=best.instruction)
                ),
                dataclasses.replace(options, optimizer=options.joins, budget=left),
                prompt_model=prompt_model,
                start_demos=best.demos,
                meter=meter,
            )
        run.stopped = stop or (_limit_stop(run, meter) if run.dspy is not None else None)
    else:
        _dspy_search(setup, options, prompt_model=prompt_model, start_demos=None, meter=meter)
        run.stopped = _limit_stop(run, meter)
    run.spent = meter.spend
    run.search_s = round(time.perf_counter() - started, 3)
    return SearchOutcome(run, shape)


def _sample(
    suite: Suite,
    shape: PromptShape,
    train: Sequence[ResolvedCase],
    references: dict[str, Reference],
    unlabelled: dict[str, str],
    model: ModelSpec,
    options: SearchOptions,
    say: Callable[[str], None] | None,
    meter: Meter,
    reserve: int,
) -> Sampling | None:
    """Run the sampling stage on the train cases without a reference; the references it
    keeps join ``references`` (and leave ``unlabelled``).

    The replies are asked with your instruction plus the rules read off the checks (the
    search's own first improvement): a small model told "at most 25 words" produces passing
    replies far more often than one that must guess it, and a case it still never passes is
    the stronger evidence of a gap."""
    wanted = [c for c in train if c.id in unlabelled]
    plan = options.sampling
    if not wanted or plan.samples < 1:
        return None
    tell = say or (lambda line: None)
    tell(
        f"sampling: {len(wanted)} train cases have no reference answer; asking {model.display} "
        f"for 1 + {plan.samples} replies each (temperature {plan.temperature:g}), up to "
        f"{sampling_cost(len(wanted), plan)} calls, cached"
        + (f"; {plan.teacher.display} where none passes" if plan.teacher else "")
    )
    rules = check_rules(train, references)
    ruled = instruction_with(shape.instruction, rules, RULES_HEADING)
    variant = Variant("sampling", candidate_templates(shape, ruled, ()), "the sampling stage")
    sampling = sample_references(
        suite,
        wanted,
        model,
        plan,
        seed=options.seed,
        settings=options.settings,
        variant=variant,
        rules=[r.text for r in rules],
        meter=meter,
        reserve=reserve,
    )
    for case in sampling.cases:
        if case.reference is not None:
            references[case.case_id] = sampled_reference(case, sampling)
            unlabelled.pop(case.case_id, None)
        else:
            replies = "the teacher's or the model's" if case.teacher_passes else "the model's"
            unlabelled[case.case_id] = (
                f"none of {case.tried} of {replies} replies passed its checks"
            )
    tell(sampling_line(sampling))
    return sampling


def _limit_stop(run: OptimizationRun, meter: Meter) -> SearchStop | None:
    """The stop of a spending limit that refused a DSPy optimizer's calls, if one did."""
    reason = meter.ran_out()
    if reason is None or not meter.refused:
        return None
    return SearchStop(
        reason=reason,
        detail=meter.describe(reason),
        candidates=len(run.candidates),
        spent=meter.spend,
    )


def sampling_line(sampling: Sampling) -> str:
    """What the sampling stage found and cost, in one line."""
    kept = sampling.references()
    teacher = sum(1 for c in sampling.cases if c.source == "teacher")
    usage = sampling.usage.plus(sampling.teacher_usage)
    return (
        f"sampling: references for {len(kept)} of {len(sampling.cases)} cases"
        + (f" ({teacher} from the teacher)" if sampling.teacher else "")
        + f"; {usage.calls} calls (+{usage.cache_hits} cached), {usage.tokens} tokens, "
        f"{sampling.wall_s:.0f} s"
        + (f"; stopped: {sampling.stopped}" if sampling.stopped else "")
        + (f"\n  settled: {sampling.settled}" if sampling.settled else "")
    )


def reference_summary(
    references: Mapping[str, Reference], unlabelled: Mapping[str, str]
) -> ReferenceSummary:
    """What the run records of the train cases' references: counts and each case's source."""
    sources = Counter(r.source for r in references.values())
    return ReferenceSummary(
        train_cases=len(references) + len(unlabelled),
        with_reference=len(references),
        stated=sources["stated"],
        derived=sources["derived"],
        sampled=sources["sampled"],
        teacher=sources["teacher"],
        labelled=sources["labelled"],
        sources={case_id: r.source for case_id, r in sorted(references.items())},
        missing=dict(sorted(unlabelled.items())),
    )


def _dspy_search(
    setup: SearchSetup,
    options: SearchOptions,
    *,
    prompt_model: ModelSpec,
    start_demos: Sequence[Demo] | None,
    meter: Meter,
) -> None:
    """Run a DSPy optimizer, recording its candidates into the setup's run.

    With ``start_demos`` (None: a fresh search), the student starts from the setup's
    instruction and those demos, and the baseline is not scored again. A spending limit that
    runs out refuses every further call (the optimizer then stops, its candidates kept).
    """
    suite, run, shape, references, model = (
        setup.suite,
        setup.run,
        setup.shape,
        setup.references,
        setup.model,
    )
    dspy = import_dspy()
    from promptsuite.optimize.search._adapter import RecordingAdapter
    from promptsuite.optimize.search._engine import Bridge, PromptsuiteEngine
    from promptsuite.optimize.search._program import (
        Scorer,
        build_student,
        make_metric,
        task_spec,
        to_examples,
    )

    task = task_spec(suite, shape)
    split = run.split
    cases = {case.id: case for case in suite.cases}
    by_split = {
        name: [case for case in suite.cases if split[case.id] == name] for name in ("train", "val")
    }
    threads = options.threads or (1 if model.provider == "local" else 4)
    run.dspy = DspySearch(
        version=dspy.__version__,
        threads=threads,
        prompt_model_is_task_model=prompt_model == model,
    )
    bridge = Bridge(options.settings)
    try:
        task_engine = PromptsuiteEngine(bridge, model, params=suite.params, task=True, meter=meter)
        prompt_engine = PromptsuiteEngine(
            bridge, prompt_model, params=None, seed=options.seed, task=False, meter=meter
        )
        before = run.task_model_usage

        def usage() -> tuple[int, int, int]:
            engines = [task_engine, prompt_engine]
            tokens = sum(engine.stats.tokens for engine in engines)
            return (
                before.calls + task_engine.stats.calls,
                prompt_engine.stats.calls,
                before.tokens + tokens,
            )

        recorder = Recorder(run, cases, usage, setup.progress)
        scorer = Scorer(bridge, suite, model)
        metric = make_metric(task, scorer, cases, recorder.observe)
        task_lm = dspy.LM(
            f"promptsuite/{model.display}",
            engine=task_engine,
            cache=False,
            temperature=suite.params.temperature,
            max_tokens=suite.params.max_tokens,
        )
        prompt_lm = dspy.LM(
            f"promptsuite/{prompt_model.display}",
            engine=prompt_engine,
            cache=False,
            temperature=1.0,
            max_tokens=PROMPT_MAX_TOKENS,
        )
        student = build_student(task)
        labels = {c: r.output for c, r in references.items() if split.get(c) == "train"}
        trainset = to_examples(by_split["train"], task, labels)
        valset = to_examples(by_split["val"], task)
        random.Random(options.seed).shuffle(trainset)
        if start_demos:
            student.demos = [
                dspy.Example(**d.vars, **{task.output_field: d.output}) for d in start_demos
            ]
        adapter = RecordingAdapter(task, options.adapter)
        with dspy.context(lm=task_lm, adapter=adapter), _quiet(options.log):
            if start_demos is None:
                _evaluate_baseline(dspy, student, valset, metric, threads)
                if not run.candidates:
                    detail = task_engine.stats.last_error or "no reply was scored"
                    raise OptimizeError(
                        f"the baseline variant {shape.variant!r} could not be evaluated on "
                        f"{model.display}: {detail}"
                    )
            recorder.source = options.optimizer
            context = OptimizerContext(
                options=options,
                student=student,
                trainset=trainset,
                valset=valset,
                metric=metric,
                feedback_metric=make_metric(task, scorer, cases, recorder.observe, feedback=True),
                task_lm=task_lm,
                prompt_lm=prompt_lm,
                threads=threads,
                labelled=bool(labels),
            )
            try:
                RUNNERS[options.optimizer](dspy, context)
            except (ConfigError, MissingDependency):
                raise
            except Exception as exc:
                # A DSPy optimizer gives up on the first reply its proposer cannot parse (a
                # small prompt model's are often prose), and a model can fail for good
                # mid-search; the candidates recorded so far are kept, verified and
                # analysed, and the failure is reported with them.
                run.optimizer_error = _one_line(exc)
        run.task_model_usage = before.plus(task_engine.stats.usage())
        run.prompt_model_usage = prompt_engine.stats.usage()
    finally:
        bridge.close()


def _evaluate_baseline(
    dspy: Any, student: Any, valset: list[Any], metric: Any, threads: int
) -> None:
    evaluate = dspy.Evaluate(
        devset=valset,
        metric=metric,
        num_threads=threads,
        display_progress=False,
        display_table=False,
        max_errors=len(valset) + 1,
    )
    evaluate(student)


def _one_line(exc: BaseException) -> str:
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


@contextlib.contextmanager
def _quiet(log: Path | None) -> Iterator[None]:
    """Send DSPy's prints, progress bars and log records to ``log`` (or nowhere)."""
    sink: TextIO
    with contextlib.ExitStack() as stack:
        if log is None:
            sink = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
        else:
            log.parent.mkdir(parents=True, exist_ok=True)
            sink = stack.enter_context(log.open("a", encoding="utf-8"))
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        saved = []
        for name in ("dspy", "gepa", "optuna", "LiteLLM"):
            logger = logging.getLogger(name)
            saved.append((logger, logger.handlers[:], logger.propagate))
            logger.handlers = [handler]
            logger.propagate = False
        stack.enter_context(contextlib.redirect_stdout(sink))
        stack.enter_context(contextlib.redirect_stderr(sink))
        try:
            yield
        finally:
            for logger, handlers, propagate in saved:
                logger.handlers = handlers
                logger.propagate = propagate
