"""Spending limits in the user's units: model calls, tokens, US dollars.

``--max-calls``, ``--max-tokens`` and ``--max-cost`` cap what the sampling stage and the
search spend together (one :class:`Meter` counts both). They stop at a case boundary: before
running a group of cases, :meth:`Meter.fitting` says how many of them fit in what is left,
at the dearest case seen so far, so a stage never starts a case it expects to overrun. A
case's cost is known only once it ran (a reply's length, a grader's calls), so a case
dearer than every one before it may pass the limit by its difference; the very first case
of a run is always allowed, since nothing else could tell what a case costs.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence

from promptsuite.errors import ConfigError, OptimizeError
from promptsuite.models import Generation, ModelSpec
from promptsuite.optimize._records import LimitReason, Spend, SpendingLimits
from promptsuite.prices import Price, cost_usd, price_for
from promptsuite.results import CaseResult

__all__ = ["Meter", "price_of"]

_OPTIONS = {"max-calls": "--max-calls", "max-tokens": "--max-tokens", "max-cost": "--max-cost"}


def price_of(model: ModelSpec) -> Price | None:
    """The model's price per million tokens (the embedded and scripted models cost $0);
    None when it is unknown."""
    return price_for(model.display, {"provider": model.provider, "model": model.model})


class Meter:
    """What the sampling stage and the search spent, against the limits.

    Args:
        limits: The limits (none set: every case fits).
        models: The models the stages call; with ``max_cost``, each needs a known price.

    Raises:
        ConfigError: ``max_cost`` is set and a model's price is unknown.
    """

    def __init__(self, limits: SpendingLimits, models: Sequence[ModelSpec]) -> None:
        self.limits = limits
        self.calls = 0
        self.tokens = 0
        self.cost = 0.0
        self._prices: dict[str, Price | None] = {m.display: price_of(m) for m in models}
        # The dearest call so far (tokens, dollars), and the most calls a case made per call
        # it was expected to make (a graded check's grader calls come on top).
        self._call_tokens = 0.0
        self._call_cost = 0.0
        self._calls_per_expected = 1.0
        self._measured = False
        #: Calls refused because a limit had run out (a DSPy optimizer's).
        self.refused = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        unknown = [name for name, price in self._prices.items() if price is None]
        if limits.max_cost is not None and unknown:
            raise ConfigError(
                f"--max-cost: no price is known for {', '.join(unknown)}; limit the run with "
                "--max-calls or --max-tokens instead (known prices: promptsuite.prices)"
            )

    @property
    def spend(self) -> Spend:
        """What was spent so far (the cost is None when a model's price is unknown)."""
        priced = all(price is not None for price in self._prices.values())
        return Spend(
            calls=self.calls, tokens=self.tokens, cost=round(self.cost, 6) if priced else None
        )

    def add(
        self, model: ModelSpec, results: Sequence[CaseResult], calls: int, expected: int
    ) -> None:
        """Count what answering ``results`` spent.

        Args:
            model: The model that answered (its price).
            results: The cases' results (the tokens of the generations the cache did not
                answer).
            calls: The model calls made, by the runner's count (graders included).
            expected: The calls the cases were expected to make (their repeats).
        """
        with self._lock:
            for result in results:
                for generation in result.generations:
                    if not generation.cached:
                        self._count(model, generation.prompt_tokens, generation.completion_tokens)
            if expected:
                self._calls_per_expected = max(self._calls_per_expected, calls / expected)
            self.calls += calls

    def allow(self) -> None:
        """Let a single call (a DSPy optimizer's, from any thread) start, counting it as in
        flight until :meth:`add_call` or :meth:`release`; refuse it once a limit ran out.

        Raises:
            OptimizeError: A limit has run out, counting the calls in flight.
        """
        with self._lock:
            reason = self._ran_out(self._in_flight)
            if reason is None:
                self._in_flight += 1
                return
            self.refused += 1
        raise OptimizeError(self.describe(reason))

    def release(self) -> None:
        """A call :meth:`allow` let start failed: it costs nothing."""
        with self._lock:
            self._in_flight -= 1

    def add_call(self, model: ModelSpec, generation: Generation) -> None:
        """Count a call :meth:`allow` let start, unless the cache answered it."""
        with self._lock:
            self._in_flight -= 1
            if not generation.cached:
                self.calls += 1
                self._count(model, generation.prompt_tokens, generation.completion_tokens)

    def _count(self, model: ModelSpec, prompt_tokens: int, completion_tokens: int) -> None:
        price = self._prices.get(model.display) or (0.0, 0.0)
        cost = cost_usd(prompt_tokens, completion_tokens, price)
        self.tokens += prompt_tokens + completion_tokens
        self.cost += cost
        self._call_tokens = max(self._call_tokens, float(prompt_tokens + completion_tokens))
        self._call_cost = max(self._call_cost, cost)
        self._measured = True

    def ran_out(self) -> LimitReason | None:
        """The limit that is used up, if one is."""
        return self._ran_out(0)

    def _ran_out(self, in_flight: int) -> LimitReason | None:
        limits = self.limits
        if limits.max_calls is not None and self.calls + in_flight >= limits.max_calls:
            return "max-calls"
        if limits.max_tokens is not None and self.tokens >= limits.max_tokens:
            return "max-tokens"
        if limits.max_cost is not None and self.cost >= limits.max_cost:
            return "max-cost"
        return None

    def fitting(
        self, wanted: int, *, calls_per_case: int = 1, reserve: int = 0
    ) -> tuple[int, LimitReason | None]:
        """How many of ``wanted`` cases fit in what is left, at the dearest call so far;
        and the limit that cuts them, if one does.

        Args:
            wanted: Cases about to run.
            calls_per_case: The calls each makes (its repeats; 1 + K for a sampled case).
            reserve: Calls to keep room for after these (scoring the baseline, for the
                sampling stage).
        """
        if not self.limits.any or wanted == 0:
            return wanted, None
        used_up = self.ran_out()
        if used_up is not None:
            return 0, used_up
        if not self._measured and (self.limits.max_tokens is not None or self.limits.max_cost):
            # Nothing tells what a call costs yet: the first case runs alone, and tells.
            return 1, None
        calls = calls_per_case * self._calls_per_expected
        fit = wanted
        cut: LimitReason | None = None
        checks: tuple[tuple[LimitReason, float | None, float, float], ...] = (
            ("max-calls", self.limits.max_calls, self.calls, 1.0),
            ("max-tokens", self.limits.max_tokens, self.tokens, self._call_tokens),
            ("max-cost", self.limits.max_cost, self.cost, self._call_cost),
        )
        for reason, limit, spent, per_call in checks:
            if limit is None or per_call <= 0:
                continue
            left = limit - spent - reserve * per_call
            cases = max(0, math.floor(left / (calls * per_call) + 1e-9))
            if cases < fit:
                fit, cut = cases, reason
        return fit, cut

    def describe(self, reason: LimitReason) -> str:
        """``the --max-calls 200 limit ran out (200 calls spent)``."""
        limits, spend = self.limits, self.spend
        figures: Mapping[str, tuple[object, str]] = {
            "max-calls": (limits.max_calls, f"{spend.calls} calls"),
            "max-tokens": (limits.max_tokens, f"{spend.tokens} tokens"),
            "max-cost": (limits.max_cost, f"{self.cost:.4f} USD"),
        }
        limit, spent = figures[reason]
        shown = f"{limit:g}" if isinstance(limit, float) else f"{limit}"
        return f"the {_OPTIONS[reason]} {shown} limit ran out ({spent} spent)"
