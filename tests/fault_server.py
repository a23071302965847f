"""A seeded fault schedule for the stub server, and what a run against it must produce.

:class:`FaultSchedule` is a ``behavior`` for :class:`tests.stub_server.StubServer`. It picks
each request's fate from a seed, the request's prompt and how many times that prompt has
been sent before, so the fate of every attempt of every case is fixed in advance, whatever
order concurrent requests (from one process or several pytest-xdist workers) arrive in.
:meth:`FaultSchedule.expect` replays the provider's retry rules over the same draws, so a
test knows, before running anything, how each case must end, with which error, after how
many attempts, and how many faults of each kind the server will inject::

    schedule = FaultSchedule(seed=7)
    with StubServer(behavior=schedule) as stub:
        ...  # run cases whose prompts are "case <i>" against stub.base_url
    outcome = schedule.expect("case 3", max_attempts=3)
    assert schedule.injected() == expected_injections
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.stub_server import (
    Action,
    CloseMidBody,
    EmptyChoices,
    Hang,
    InvalidJson,
    NullContent,
    Reply,
    SlowDrip,
    Status,
)

__all__ = ["DEFAULT_WEIGHTS", "FAULTS", "Expected", "Fault", "FaultSchedule", "last_user_text"]


@dataclass(frozen=True)
class Fault:
    """One kind of answer the server can give.

    Attributes:
        name: Short name used in counters and figures.
        error_kind: The promptsuite error a case ends with when this is its last attempt
            (None: the attempt succeeds).
        retried: Whether the provider retries after it.
        reason: Text the final error message must contain.
    """

    name: str
    error_kind: str | None
    retried: bool
    reason: str


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("ok", None, False, ""),
        Fault("slow_drip", None, False, ""),
        Fault("status_429", "RateLimited", True, "HTTP 429"),
        Fault("status_429_retry_after", "RateLimited", True, "HTTP 429"),
        Fault("status_500", "TransportError", True, "HTTP 500"),
        Fault("status_502", "TransportError", True, "HTTP 502"),
        Fault("status_503", "TransportError", True, "HTTP 503"),
        Fault("hang", "ModelTimeout", True, "no answer within"),
        Fault("close_mid_body", "TransportError", True, "connection failed"),
        Fault("truncated_json", "BadResponse", True, "invalid JSON body"),
        Fault("invalid_json", "BadResponse", True, "invalid JSON body"),
        Fault("empty_choices", "BadResponse", False, "has no choices"),
        Fault("null_content", "BadResponse", False, "has no text content"),
    )
}

#: Chance of each answer, per attempt. About 40% of attempts fail, so with three attempts
#: most cases pass after retries and a few percent run out of them.
DEFAULT_WEIGHTS: dict[str, float] = {
    "ok": 0.56,
    "slow_drip": 0.05,
    "status_429": 0.06,
    "status_429_retry_after": 0.03,
    "status_500": 0.04,
    "status_502": 0.03,
    "status_503": 0.03,
    "hang": 0.04,
    "close_mid_body": 0.05,
    "truncated_json": 0.03,
    "invalid_json": 0.02,
    "empty_choices": 0.03,
    "null_content": 0.03,
}


@dataclass(frozen=True)
class Expected:
    """How a case must end against the schedule.

    Attributes:
        attempts: Requests the provider sends for it.
        faults: The answer given to each attempt, in order.
        error_kind: The error class name it ends with, or None when a reply came back.
        reason: Text its error message must contain ("" when no error).
    """

    attempts: int
    faults: tuple[str, ...]
    error_kind: str | None
    reason: str


@dataclass
class _Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: Counter[str] = field(default_factory=Counter)
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    injected: Counter[str] = field(default_factory=Counter)


class FaultSchedule:
    """A per-request, seeded fault schedule, usable as a stub server ``behavior``.

    Args:
        seed: Seeds every draw.
        weights: Chance of each fault name (see :data:`FAULTS`) per attempt.
        hang_s: How long a ``hang`` answer stays silent (set it past the client timeout).
        retry_after: The ``Retry-After`` header of ``status_429_retry_after``, in seconds.
        drip_delay: Seconds between the chunks of a ``slow_drip`` answer.
    """

    def __init__(
        self,
        seed: int = 0,
        weights: dict[str, float] | None = None,
        *,
        hang_s: float = 5.0,
        retry_after: str = "1",
        drip_delay: float = 0.02,
    ) -> None:
        self.seed = seed
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        unknown = set(self.weights) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault names: {sorted(unknown)}")
        self.hang_s = hang_s
        self.retry_after = retry_after
        self.drip_delay = drip_delay
        #: When True every request gets a normal reply (and is still counted).
        self.healthy = False
        self._names = list(self.weights)
        self._cumulative = list(self.weights.values())
        self._ledger = _Ledger()

    def draw(self, key: str, attempt: int) -> str:
        """The fault for the ``attempt``-th request (from 1) whose prompt is ``key``."""
        rng = random.Random(f"{self.seed}\x00{key}\x00{attempt}")
        return rng.choices(self._names, weights=self._cumulative)[0]

    def expect(self, key: str, max_attempts: int) -> Expected:
        """Replay the provider's retry rules over this schedule's draws for one prompt."""
        faults: list[str] = []
        for attempt in range(1, max_attempts + 1):
            name = self.draw(key, attempt)
            faults.append(name)
            fault = FAULTS[name]
            if fault.error_kind is None:
                return Expected(attempt, tuple(faults), None, "")
            if not fault.retried or attempt == max_attempts:
                return Expected(attempt, tuple(faults), fault.error_kind, fault.reason)
        raise ValueError("max_attempts must be at least 1")

    def __call__(self, index: int, body: dict[str, Any]) -> Action:
        key = last_user_text(body)
        ledger = self._ledger
        with ledger.lock:
            ledger.attempts[key] += 1
            attempt = ledger.attempts[key]
            ledger.arrivals.setdefault(key, []).append(time.monotonic())
            name = "ok" if self.healthy else self.draw(key, attempt)
            ledger.injected[name] += 1
        return self.action(name)

    def action(self, name: str) -> Action:
        """The stub action that produces the fault ``name``."""
        actions: dict[str, Action] = {
            "ok": Reply(),
            "slow_drip": SlowDrip(chunk_delay=self.drip_delay, chunk_size=64),
            "status_429": Status(429, message="slow down"),
            "status_429_retry_after": Status(429, retry_after=self.retry_after),
            "status_500": Status(500),
            "status_502": Status(502),
            "status_503": Status(503),
            "hang": Hang(self.hang_s),
            "close_mid_body": CloseMidBody(),
            "truncated_json": InvalidJson(),
            "invalid_json": InvalidJson(b"<html><body>502 Bad Gateway</body></html>"),
            "empty_choices": EmptyChoices(),
            "null_content": NullContent(),
        }
        return actions[name]

    def injected(self) -> dict[str, int]:
        """Requests answered so far, by fault name."""
        with self._ledger.lock:
            return dict(self._ledger.injected)

    def attempts(self) -> dict[str, int]:
        """Requests received so far, by prompt."""
        with self._ledger.lock:
            return dict(self._ledger.attempts)

    def arrivals(self, key: str) -> list[float]:
        """Monotonic arrival times of every request for one prompt."""
        with self._ledger.lock:
            return list(self._ledger.arrivals.get(key, []))

    def reset(self) -> None:
        """Forget every request seen (attempt numbers start again at 1)."""
        with self._ledger.lock:
            self._ledger = _Ledger()


def last_user_text(body: dict[str, Any]) -> str:
    """The content of the last user message of a chat request body."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""
