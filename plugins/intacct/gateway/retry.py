"""The one retry policy of the Intacct client.

Every call this product makes to Intacct is a read, so sending a request again is always safe; what
needs care is *when*. Transient faults back off exponentially with full jitter, under a cap per wait and
a cap on the total time spent retrying one call. Throttling (429 / GW-0010) pauses every worker of the
client, not just the one that was refused, so several slots never turn one 429 into a storm. A
maintenance window ("The Service is Temporarily Off-line") gets its own, longer patience.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from intacct.gateway.errors import IntacctError, ServiceOfflineError, ThrottledError


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one call. All durations in seconds."""

    base_delay: float = 1.0
    max_delay: float = 60.0
    max_attempts: int = 8
    max_total: float = 300.0
    # Intacct maintenance windows last minutes; waiting them out beats failing a nightly run.
    maintenance_patience: float = 1800.0
    maintenance_poll: float = 60.0

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError(f"retry delays must satisfy 0 <= base_delay <= max_delay, got {self}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

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


class RetryBudget:
    """Tracks one call's attempts against a `RetryPolicy` and decides how long to wait next."""

    def __init__(
        self,
        policy: RetryPolicy,
        pause: Pause,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.policy = policy
        self._pause = pause
        self._clock = clock
        self._rng = rng or random.Random()
        self._started = clock()
        self._attempts = 0
        self._offline_since: float | None = None

    def next_wait(self, error: IntacctError) -> float | None:
        """Seconds to wait before trying again after `error`, or None when the call must fail."""
        if not error.retryable:
            return None
        self._attempts += 1
        elapsed = self._clock() - self._started
        if isinstance(error, ServiceOfflineError):
            if self._offline_since is None:
                self._offline_since = self._clock()
            if self._clock() - self._offline_since >= self.policy.maintenance_patience:
                return None
            return self.policy.maintenance_poll
        if self._attempts >= self.policy.max_attempts or elapsed >= self.policy.max_total:
            return None
        wait = self.policy.backoff(self._attempts, self._rng)
        if isinstance(error, ThrottledError):
            wait = max(wait, error.retry_after or 0.0, self.policy.base_delay)
            self._pause.extend(wait)
        return min(wait, max(0.0, self.policy.max_total - elapsed))

    @property
    def attempts(self) -> int:
        return self._attempts
