"""The one retry policy of the product's HTTP clients (Intacct's XML gateway, Forecast's REST API).

An error tells the policy what it may do through attributes: `retryable` (sending it again may
succeed), `throttles` (the server asked everyone to slow down) and `retry_after` (seconds it asked for).

Every call this product makes to Intacct is a read, so sending a request again is always safe; what
needs care is *when*. Transient faults back off exponentially with full jitter, under a cap per wait, a
cap on the attempts and the time spent retrying one call, and one time budget shared by every call of
the client (one client per Airflow task), so a task of many calls cannot retry for hours. Throttling
(429 / GW-0010) pauses every worker of the client, not just the one that was refused, so several slots
never turn one 429 into a storm. A maintenance window ("The Service is Temporarily Off-line") gets its
own, longer patience, outside the task's budget.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from intacct.gateway.errors import ServiceOfflineError


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one call. All durations in seconds."""

    base_delay: float = 1.0
    max_delay: float = 60.0
    max_attempts: int = 8
    max_total: float = 300.0
    # What all calls of one client (one Airflow task) may spend on failed attempts and the waits after
    # them, together: a task of many calls otherwise gets max_total for each.
    task_budget: float = 900.0
    # Intacct maintenance windows last minutes; waiting them out beats failing a nightly run.
    maintenance_patience: float = 1800.0
    maintenance_poll: float = 60.0

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError(f"retry delays must satisfy 0 <= base_delay <= max_delay, got {self}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.task_budget < 0:
            raise ValueError(f"task_budget must be at least 0 seconds, got {self.task_budget}")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential back-off before retry number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(0, ceiling)


class Pause:
    """A pause shared by all workers of one client: after a 429 nobody sends until it has passed."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self._until = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def extend(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def wait(self) -> None:
        while True:
            with self._lock:
                remaining = self._until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)


class TaskBudget:
    """The retry time that all calls of one client share: `RetryPolicy.task_budget` seconds.

    A failure costs the time from the start of its failed attempt to the end of the wait granted after
    it. Time is wall-clock: while several workers fail at once, each second counts once. Maintenance
    waits are not charged (they have `maintenance_patience` of their own). Thread-safe.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._spans: list[tuple[float, float]] = []  # disjoint and sorted
        self._retries = 0
        self._lock = threading.Lock()

    def charge(self, start: float, end: float, *, retry: bool = False) -> None:
        """Count the span `start`..`end` as spent; `retry` when a retry follows it."""
        with self._lock:
            merged: list[tuple[float, float]] = []
            for low, high in sorted([*self._spans, (start, max(start, end))]):
                if merged and low <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], high))
                else:
                    merged.append((low, high))
            self._spans = merged
            self._retries += retry

    @property
    def spent(self) -> float:
        with self._lock:
            return sum(high - low for low, high in self._spans)

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - self.spent)

    @property
    def retries(self) -> int:
        """Requests sent again after a transient failure (maintenance polls not included)."""
        return self._retries

    def summary(self) -> str:
        """One line for a run's report, e.g. "retries: 3 (41 s of the 900 s budget per task)"."""
        spent = self.spent
        shown = f"{spent:.0f}" if spent >= 10 else f"{spent:.1f}"
        return f"retries: {self.retries} ({shown} s of the {self.seconds:g} s budget per task)"


class RetryBudget:
    """Tracks one call's attempts against a `RetryPolicy` and decides how long to wait next.

    `task` is the budget shared by all calls of the client; without one the call gets a budget of its own.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        pause: Pause,
        *,
        task: TaskBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.policy = policy
        self._pause = pause
        self._task = task if task is not None else TaskBudget(policy.task_budget)
        self._clock = clock
        self._rng = rng or random.Random()
        self._started = clock()
        self._attempts = 0
        self._offline_since: float | None = None
        self.gave_up: str | None = None

    def next_wait(self, error: Exception, *, attempt_started: float | None = None) -> float | None:
        """Seconds to wait before trying again after `error`, or None when the call must fail (then
        `gave_up` says which limit ended it, if any). `attempt_started` is when the failed attempt
        began (its clock's reading): its duration is charged to the task's budget."""
        if not getattr(error, "retryable", False):
            return None
        self._attempts += 1
        now = self._clock()
        elapsed = now - self._started
        if isinstance(error, ServiceOfflineError):
            if self._offline_since is None:
                self._offline_since = now
            if now - self._offline_since >= self.policy.maintenance_patience:
                self.gave_up = f"the maintenance patience of {self.policy.maintenance_patience:g} s is spent"
                return None
            return self.policy.maintenance_poll
        self._task.charge(now if attempt_started is None else attempt_started, now)
        if self._attempts >= self.policy.max_attempts:
            self.gave_up = f"{self._attempts} attempts made"
            return None
        if elapsed >= self.policy.max_total:
            self.gave_up = f"the call's {self.policy.max_total:g} s of retrying are spent"
            return None
        remaining = self._task.remaining
        if remaining <= 0:
            self.gave_up = f"the task's retry budget is spent ({self._task.summary()})"
            return None
        wait = self.policy.backoff(self._attempts, self._rng)
        if getattr(error, "throttles", False):
            wait = max(wait, getattr(error, "retry_after", None) or 0.0, self.policy.base_delay)
            self._pause.extend(wait)
        wait = min(wait, max(0.0, self.policy.max_total - elapsed), remaining)
        self._task.charge(now, now + wait, retry=True)
        return wait

    @property
    def attempts(self) -> int:
        return self._attempts
