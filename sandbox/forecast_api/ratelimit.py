"""A token bucket per API key: `rate` requests a second on average, bursts of up to `burst`.

Forecast documents no numeric limit (only a fair-use policy); the sandbox enforces one so clients prove
they honour 429 and Retry-After.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Thread-safe. `rate` 0 means no limit; `burst` defaults to max(1, rate)."""

    def __init__(
        self, rate: float = 10.0, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic
    ):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self.configure(rate, burst)

    def configure(self, rate: float, burst: float | None = None) -> None:
        """Change the limit; every bucket starts full under it."""
        rate = float(rate)
        burst = max(1.0, rate) if burst is None else float(burst)
        if rate < 0 or math.isnan(rate) or burst < 1:
            raise ValueError(f"the rate must be at least 0 and the burst at least 1, not {rate} and {burst}")
        with self._lock:
            self.rate, self.burst = rate, burst
            self._buckets.clear()

    def refill(self) -> None:
        with self._lock:
            self._buckets.clear()

    def take(self, key: str) -> int:
        """Spend a token of `key`'s bucket: 0 if there was one, else the whole seconds (at least 1) until
        there is (the Retry-After to answer; nothing is spent then)."""
        with self._lock:
            if self.rate == 0:
                return 0
            now = self._clock()
            tokens, since = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - since) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))

    def settings(self) -> dict[str, float]:
        with self._lock:
            return {"rate": self.rate, "burst": self.burst}
