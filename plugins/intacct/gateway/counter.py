"""Our own count of Intacct API transactions: customers pay per transaction, so every one is counted."""

from __future__ import annotations

import threading
from collections import Counter


class CallCounter:
    """Thread-safe tally of Intacct function calls per (function, object).

    Every function in every request we send is one transaction to Intacct, retries and session calls
    included: the count is what the customer is billed for, not what succeeded.
    """

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, function: str, object_name: str = "", calls: int = 1) -> None:
        with self._lock:
            self._counts[(function, object_name)] += calls

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def drain(self) -> dict[tuple[str, str], int]:
        """Return the counts and reset them, so a caller can persist each call exactly once."""
        with self._lock:
            counts = dict(self._counts)
            self._counts.clear()
            return counts
